"""Generated credentials of the reference stack: no secret is a constant of the code.

A block's digest password at the S-CSCF/HSS (TR 23.701 5.2.2.5.1: the eP-CSCF registers
the block with it) is taken from the configuration when given; otherwise it is generated
once, at random, into the state directory and read back by every later run and by every
process sharing that directory (``wimpu-ref up --nodes``)::

    <state>/secrets/              mode 0700
        block.<name>.password     mode 0600, one line, no newline
        .lock                     serialises processes generating a secret

Without ``--state-dir`` the state directory is temporary: a fresh password each run.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from reference.dirlock import directory_lock

__all__ = ["SecretStore"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class SecretStore:
    """Secrets generated on first use into ``directory`` (created mode 0700)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        """Where the secret ``name`` is kept."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a usable secret name: {name!r}")
        return self.directory / f"{name}.password"

    def get(self, name: str) -> str:
        """The secret ``name``: read if present, else 24 random URL-safe characters, saved 0600."""
        path = self.path(name)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            if path.exists():
                value = path.read_text(encoding="utf-8").strip()
                if value:
                    return value
            value = secrets.token_urlsafe(18)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(value)
            os.chmod(path, 0o600)
            return value

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return directory_lock(self.directory)
