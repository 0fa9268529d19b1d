"""Who may use the wIMPU Registrar, from the stack configuration (TS 33.501 13.1, 13.4 practice).

Every node that calls the registrar has a client certificate of the stack's test CA
naming it (``reference.tls``: ``client.<node>.pem``), and a grant (``access``):

- each eP-CSCF: W6 and leases for the blocks it serves and those it stands by for;
- each P-CSCF of a decomposed eP-CSCF: the same for its eP-CSCF's blocks;
- ``i-cscf``: W7 only; ``wwsf``: the block leases, read only;
- ``observer``: read only (the conformance harness, an operator's tools).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from reference.nodes.wimpu_registrar.access import AccessPolicy, Grant, Role

if TYPE_CHECKING:
    from reference.stack import BlockSpec, StackConfig

__all__ = ["I_CSCF", "OBSERVER", "WWSF", "client_nodes", "registrar_access"]

OBSERVER: Final = "observer"
"The read-only client certificate of the conformance harness."
I_CSCF: Final = "i-cscf"
WWSF: Final = "wwsf"


def _grant(node: str, blocks: list[BlockSpec], holder: str, serves_as: str) -> Grant:
    return Grant(
        node=node,
        role=Role.EP_CSCF,
        blocks=tuple(b.block for b in blocks),
        holder=holder,
        serves_as=serves_as,
    )


def registrar_access(
    config: StackConfig, ep_identity: Callable[[str], str], p_cscf_identity: Callable[[str], str]
) -> AccessPolicy:
    """The registrar's access policy for ``config``.

    Args:
        ep_identity: an eP-CSCF's identity (lease holder, ``ep_cscf`` of its contacts).
        p_cscf_identity: a decomposed eP-CSCF's P-CSCF's identity (its lease holder).
    """
    grants = [Grant(OBSERVER, Role.OBSERVER), Grant(I_CSCF, Role.I_CSCF), Grant(WWSF, Role.WWSF)]
    names = sorted({b.ep_cscf for b in config.blocks} | {s for b in config.blocks for s in b.standby})
    for name in names:
        mine = [b for b in config.blocks if b.ep_cscf == name or name in b.standby]
        grants.append(_grant(name, mine, ep_identity(name), ep_identity(name)))
    for spec in config.p_cscfs:
        mine = [b for b in config.blocks if b.ep_cscf == spec.ep_cscf]
        grants.append(_grant(spec.name, mine, p_cscf_identity(spec.name), ep_identity(spec.ep_cscf)))
    return AccessPolicy(grants)


def client_nodes(config: StackConfig) -> list[str]:
    """Every node with a client certificate: the observer first, then each caller."""
    return list(registrar_access(config, lambda n: n, lambda n: n).grants)
