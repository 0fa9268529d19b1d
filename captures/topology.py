"""What the offline verifier needs to know of the system that was captured: a small protocol.

The capture rules name the ends of each message and check the option-dependent rules against the
wIMPU blocks (TR 23.701 5.2.2.1). They need no more of a deployment than this, so ``captures``
depends on this protocol and not on the PIXIT: ``conformance.pixit.Pixit`` satisfies it (the
``verify --pixit`` of ``wimpu-conformance`` passes one in), and so can any other description of a
lab's topology. The import graph runs one way: reference <- captures <- conformance <- reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

__all__ = ["PlacedBlock", "Topology", "TopologyLoader"]


class PlacedBlock(Protocol):
    """A wIMPU block as deployed: its wildcard and identity option, and the eP-CSCF serving it."""

    @property
    def wimpu(self) -> str:
        "The wildcarded IMPU, e.g. ``sip:wrtc-!.*!@block1.ims.example.net``."

    @property
    def option(self) -> Literal["A", "B"]:
        "A: identities allocated by the third party; B: allocated by the eP-CSCF (5.2.2.1)."

    @property
    def ep_cscf(self) -> str:
        "The name of the eP-CSCF serving the block (as :meth:`Topology.endpoints` names it)."

    @property
    def registration(self) -> Literal[1, 2]:
        "5.2.2.5.1: 1 registered at eP-CSCF start-up, 2 on the first WIC registration."

    @property
    def external_domains(self) -> tuple[str, ...]:
        "Option B: the domains of the external identities the block serves."


class Topology(Protocol):
    """The nodes' listening addresses and the blocks they serve."""

    @property
    def blocks(self) -> Sequence[PlacedBlock]: ...

    def endpoints(self) -> Mapping[tuple[str, int], str]:
        """Listening (host, port) -> node name: ``wwsf``, ``registrar``, ``i_cscf``, ``s_cscf``,
        ``remote``, ``<ep-cscf>/wss`` and ``<ep-cscf>/sip``."""
        ...


TopologyLoader = Callable[[Path], Topology]
"""Reads a topology file (for ``verify --pixit``); raises ``ValueError`` with a one-line reason."""
