"""Fixtures shared by the tests that run the reference stack (end-to-end, security, interop,
preflight): the stack on loopback and a remote party."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conformance.harness.remote import RemoteParty
from reference.stack import Stack


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """The whole reference stack, fresh for each test, on free ports."""
    s = Stack()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def remote(stack: Stack) -> AsyncIterator[RemoteParty]:
    """The remote IMS party, reachable from the S-CSCF as remote.example.org."""
    party = RemoteParty("remote.example.org")
    await party.start()
    stack.resolver.add("remote.example.org", party.target)
    yield party
    await party.stop()
