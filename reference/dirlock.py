"""An exclusive lock on a state directory, shared by the processes of one stack.

Several processes (``wimpu-ref up --nodes ...``, one per node) use one state directory:
the first to need a certificate or a secret creates it, the others wait and read it.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

__all__ = ["directory_lock"]


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory/.lock`` exclusively (``flock``) for the ``with`` block."""
    with open(directory / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
