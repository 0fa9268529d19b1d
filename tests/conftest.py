"""Fixtures shared by the tests that run the reference stack (end-to-end, security, interop,
preflight): the stack on loopback and a remote party."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings

from conformance.harness.remote import RemoteParty
from reference.stack import Stack

# The property and fuzz tests draw the same examples in every run (a red CI is a defect, never
# the luck of a draw); HYPOTHESIS_PROFILE=explore draws new ones, to look for more by hand.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
