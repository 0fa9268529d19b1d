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

from reference.blocks import WimpuBlock

__all__ = ["PlacedBlock", "Topology", "TopologyLoader"]


class PlacedBlock(Protocol):
    """A wIMPU block as deployed: the block (the one model, ``reference.blocks.WimpuBlock``:
    its wildcard, identity option and external domains) and the eP-CSCF serving it."""

    @property
    def block(self) -> WimpuBlock:
        "The block: wildcarded IMPU, option A/B (5.2.2.1), option B's external domains."

    @property
    def ep_cscf(self) -> str:
        "The name of the eP-CSCF serving the block (as :meth:`Topology.endpoints` names it)."

    @property
    def registration(self) -> Literal[1, 2]:
        "5.2.2.5.1: 1 registered at eP-CSCF start-up, 2 on the first WIC registration."


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
