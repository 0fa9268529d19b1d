"""Fixtures shared by the tests of tests/conformance."""

from runs import in_process_run, in_process_verdicts

__all__ = ["in_process_run", "in_process_verdicts"]
