"""Processes sharing one state directory never load one's key with another's certificate.

Found in CI: two eP-CSCF processes started at the same moment (``tests/system/test_faults.py``)
and one failed with ``KEY_VALUES_MISMATCH``: it loaded the certificate while the other was
between writing the new key and the new certificate. Issuing and loading now happen under
the directory's lock.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from reference.tls import TestPki


def _reissue(directory: str, rounds: int) -> None:
    pki = TestPki(directory)
    for _ in range(rounds):
        pki.issue("ep-cscf")


def _load(directory: str, rounds: int, errors: multiprocessing.Queue[str]) -> None:  # type: ignore[type-arg]
    pki = TestPki(directory)
    for _ in range(rounds):
        try:
            pki.server_context("ep-cscf")
            pki.mtls_server_context("ep-cscf")
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.put(repr(exc))
            return


def test_loading_while_another_process_reissues_never_mixes_key_and_certificate(tmp_path: Path) -> None:
    TestPki(tmp_path).issue("ep-cscf")
    ctx = multiprocessing.get_context("fork")
    errors: multiprocessing.Queue[str] = ctx.Queue()  # type: ignore[type-arg]
    writer = ctx.Process(target=_reissue, args=(str(tmp_path), 150))
    readers = [ctx.Process(target=_load, args=(str(tmp_path), 150, errors)) for _ in range(2)]
    for p in (writer, *readers):
        p.start()
    for p in (writer, *readers):
        p.join(120)
    found = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert not found, found[:3]
    assert all(p.exitcode == 0 for p in (writer, *readers))
