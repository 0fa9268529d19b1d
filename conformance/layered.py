"""A PIXIT or PICS file that names a ``base``: one laboratory's configurations share one file.

A lab often runs the same system under test in more than one configuration (for example the Kamailio
eP-CSCF with its blocks provisioned for block registration option 1, and again for option 2). Each
configuration is a PIXIT and a PICS of its own, and most of what they say is the same. A file may
therefore start with ``base = "other.toml"``: it is that file's document with this one's laid over it.

- ``base`` names a file in the same directory (relative paths inside both files resolve against that
  directory, whichever file names them), which may name a base of its own; a cycle is an error.
- A table of this file replaces, key by key, the same table of the base (``[sut] start`` replaces the
  base's start command; the base's other ``[sut]`` keys stay).
- An array of tables whose kind names a key (``KEYS``: ``[[block]]`` by ``name``, ``[[item]]`` by
  ``id``, ...) is merged entry by entry: an entry whose key matches one of the base's replaces, key by
  key, that entry's values (``[[block]] name = "block1" registration = 2``); any other entry is added.
- Any other value replaces the base's (an empty array empties it). Tables inside tables are not
  merged further (a nested table replaces the base's whole), and nothing of the base can be removed
  but by replacing what holds it.

Written by hand: TOML has no include, and the merge is a few lines over :mod:`tomllib`'s result.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

KEYS: Mapping[str, str] = {
    "block": "name", "ep_cscf": "name", "user": "username", "ims_user": "identity", "item": "id",
}  # fmt: skip
"""Array of tables -> the key that identifies its entries when a file is laid over its base."""


class LayeredError(ValueError):
    """A file or its base cannot be read, or the base is not where it may be (one line, naming it)."""


def load_layered(path: Path, keys: Mapping[str, str] = KEYS) -> dict[str, Any]:
    """The TOML document of ``path``, with its ``base`` chain laid under it (module docstring).

    Raises:
        LayeredError: a file of the chain is missing, unreadable, not TOML, or a base is not a file
            name of the same directory, or the chain has a cycle.
    """
    chain: list[Path] = []
    documents: list[dict[str, Any]] = []
    current: Path | None = path
    while current is not None:
        if current.resolve() in chain:
            raise LayeredError(f"{path}: base cycle: {' -> '.join(p.name for p in [*chain, current])}")
        chain.append(current.resolve())
        document = _read(current)
        base = document.pop("base", None)
        documents.append(document)
        if base is None:
            current = None
        elif not isinstance(base, str) or not base or Path(base).name != base:
            raise LayeredError(f"{current}: base: expected a file name of the same directory, got {base!r}")
        else:
            current = current.parent / base
    merged = documents.pop()
    while documents:
        merged = _overlay(merged, documents.pop(), keys, path)
    return merged


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LayeredError(f"{path}: no such file") from None
    except OSError as exc:
        raise LayeredError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LayeredError(f"{path}: not valid TOML: {exc}") from None


Document = dict[str, Any]


def _overlay(base: Document, top: Document, keys: Mapping[str, str], path: Path) -> Document:
    merged = dict(base)
    for name, value in top.items():
        under = base.get(name)
        if isinstance(value, dict) and isinstance(under, dict):
            merged[name] = {**under, **value}
        elif name in keys and value and _tables(value) and _tables(under):
            merged[name] = _entries(under, value, keys[name], name, path)
        else:
            merged[name] = value
    return merged


def _tables(value: Any) -> TypeGuard[list[Document]]:
    return isinstance(value, list) and all(isinstance(entry, dict) for entry in value)


def _entries(under: list[Document], top: list[Document], key: str, name: str, path: Path) -> list[Document]:
    merged = [dict(entry) for entry in under]
    for number, entry in enumerate(top, 1):
        if key not in entry:
            raise LayeredError(f"{path}: [[{name}]] #{number}: laid over a base, an entry needs its {key!r}")
        match = next((old for old in merged if old.get(key) == entry[key]), None)
        if match is None:
            merged.append(dict(entry))
        else:
            match.update(entry)
    return merged
