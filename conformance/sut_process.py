"""The PIXIT's ``[sut] start`` command as a running process: started afresh, awaited, stopped.

One implementation for the two places that start a SUT: the harness before each scenario
(``conformance/harness/sut.py``, :class:`ExternalSut`) and ``wimpu-conformance check``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from conformance.pixit import Pixit
from conformance.redact import redact

__all__ = ["SutProcess"]


class SutProcess:
    """The start command of ``pixit``, run from the PIXIT's folder in a process group of its own.

    Its output goes to a temporary file (kept for an error message; a pipe could fill and block it).
    """

    def __init__(self, pixit: Pixit, keylog: str | None = None) -> None:
        """``keylog``: given to the command as ``SSLKEYLOGFILE`` (every TLS server and client of the
        reference writes its secrets there, so that a capture of them can be decoded)."""
        if not pixit.start:
            raise ValueError(f"PIXIT {pixit.path}: no [sut] start command")
        self.pixit = pixit
        if pixit.clock_file is not None:
            pixit.clock_file.unlink(missing_ok=True)  # a fresh SUT starts at real time
        self.started = time.time()
        "Files older than this are a previous start's."
        self._log = tempfile.TemporaryFile()
        cwd = pixit.path.parent if pixit.path is not None else None
        env = None if keylog is None else {**os.environ, "SSLKEYLOGFILE": keylog}
        self.process = subprocess.Popen(
            list(pixit.start), cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env=env,
        )  # fmt: skip

    def status(self) -> int | None:
        """Its exit status, or None while it runs."""
        return self.process.poll()

    def files_written(self) -> bool:
        """Every file the start command makes (``[trust] ca``, ``[wwsf] signing_key``) is this start's."""
        key = self.pixit.wwsf_signing_key
        client = list(self.pixit.registrar_client or ())
        files = [*self.pixit.trust, *([key] if key else [])]
        return all(_written_since(f, self.started) for f in files) and all(f.is_file() for f in client)

    def wait_for_files(self, deadline: float) -> bool:
        """Wait (until ``time.monotonic()`` reaches ``deadline``) for :meth:`files_written`; False if the
        command exited first or time ran out."""
        while not self.files_written():
            if self.status() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def output_tail(self, lines: int = 3) -> list[str]:
        """The last lines it printed."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace").strip().splitlines()[-lines:]

    def stop(self, keep: Path | None = None) -> None:
        """SIGTERM to its process group, SIGKILL after 10 s; idempotent. ``keep``: a file its whole
        output is written to, with every token, Bearer credential and password redacted
        (:func:`conformance.redact.redact`): the evidence of the SUT's own view of the scenario."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if keep is not None and not self._log.closed:
            self._log.seek(0)
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.write_text(redact(self._log.read().decode("utf-8", "replace")), encoding="utf-8")
        self._log.close()


def _written_since(path: Path, since: float) -> bool:
    """``path`` exists and was written at or after ``since`` (files of a SUT just started)."""
    try:
        return path.stat().st_mtime >= since
    except FileNotFoundError:
        return False
