"""Gherkin data tables as rows keyed by their header cells."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["rows"]


def rows(datatable: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    """``| a | b |`` header then data rows -> one dict per data row."""
    header, *body = datatable
    return [dict(zip(header, row, strict=True)) for row in body]
