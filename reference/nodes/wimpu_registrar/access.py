"""Who may call what on the wIMPU Registrar: the authorisation of W6, W7 and the lease API.

TR 23.701 5.2.2.4 leaves W6 and W7 to be standardised; this profile secures them as
TS 33.501 secures service-based interfaces: TLS with client and server certificates
between network functions (13.1), and each client authorised for its operations (13.4,
here a static grant per client instead of OAuth 2.0 tokens). The registrar's TLS layer
tells who called (the node named in the client certificate, ``urn:wimpu:node:<node>``);
this module decides, without any I/O, whether that caller may do what it asked:

=========== ========================================================================
role        may
=========== ========================================================================
ep-cscf     read, write and remove W6 entries of IMPUs inside its blocks (its own and
            those it stands by for, 5.2.2.2), naming itself as the serving eP-CSCF and
            only external identities of those blocks' domains (option B); claim, renew
            and release its blocks' leases under its own identity; read leases
i-cscf      W7 status queries only (5.2.2.3.3)
wwsf        read the block leases (the directory follows them, 5.2.2.2)
observer    read everything (the conformance harness watching the registrar)
=========== ========================================================================

Anything else is :class:`Forbidden` (403 with a problem document).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import ClassVar, Final

from reference.blocks import WimpuBlock
from reference.spec import clause

from .model import RegistrarError

__all__ = [
    "ALLOWED",
    "AccessPolicy",
    "Forbidden",
    "Grant",
    "Operation",
    "Role",
]


class Forbidden(RegistrarError):
    """The caller is authenticated but not authorised for this request (TS 33.501 13.4)."""

    status: ClassVar[int] = 403
    title: ClassVar[str] = "Forbidden"


class Role(enum.Enum):
    """What kind of node a client certificate names."""

    EP_CSCF = "ep-cscf"
    "An eP-CSCF, or the P-CSCF of a decomposed one: W6 and leases for its blocks."
    I_CSCF = "i-cscf"
    "The enhanced I-CSCF: W7 only."
    WWSF = "wwsf"
    "The WWSF: the block leases, read only."
    OBSERVER = "observer"
    "A read-only watcher (the conformance harness)."


class Operation(enum.Enum):
    """The registrar's operations, by route."""

    W6_READ = "W6 read"
    W6_WRITE = "W6 write"
    W6_REMOVE = "W6 remove"
    W7_STATUS = "W7 status"
    LEASE_READ = "lease read"
    LEASE_WRITE = "lease claim/release"
    BLOCK_READ = "block registrations read"


ALLOWED: Final[Mapping[Role, frozenset[Operation]]] = {
    Role.EP_CSCF: frozenset(
        {
            Operation.W6_READ,
            Operation.W6_WRITE,
            Operation.W6_REMOVE,
            Operation.LEASE_READ,
            Operation.LEASE_WRITE,
            Operation.BLOCK_READ,
        }
    ),  # fmt: skip
    Role.I_CSCF: frozenset({Operation.W7_STATUS}),
    Role.WWSF: frozenset({Operation.LEASE_READ}),
    Role.OBSERVER: frozenset(
        {Operation.W6_READ, Operation.W7_STATUS, Operation.LEASE_READ, Operation.BLOCK_READ}
    ),
}
"The operations of each role, as data (the table of the module docstring)."

BLOCK_SCOPED: Final = frozenset(
    {Operation.W6_READ, Operation.W6_WRITE, Operation.W6_REMOVE, Operation.LEASE_WRITE, Operation.BLOCK_READ}
)
"Operations an eP-CSCF may do only inside its own blocks."


@dataclasses.dataclass(frozen=True, slots=True)
class Grant:
    """What one client certificate may do."""

    node: str
    "The node named in the certificate (``urn:wimpu:node:<node>``)."
    role: Role
    blocks: tuple[WimpuBlock, ...] = ()
    "eP-CSCF: the blocks it serves or stands by for."
    holder: str = ""
    "eP-CSCF: the identity its block leases are held under."
    serves_as: str = ""
    "eP-CSCF: the eP-CSCF identity its W6 contacts name (``ep_cscf``)."

    def allows(self, operation: Operation) -> bool:
        return operation in ALLOWED[self.role]


class AccessPolicy:
    """The grants of every node the registrar knows, by the node its certificate names."""

    def __init__(self, grants: Iterable[Grant]) -> None:
        self.grants: dict[str, Grant] = {}
        for grant in grants:
            if grant.node in self.grants:
                raise ValueError(f"node {grant.node!r} has two grants")
            self.grants[grant.node] = grant

    def caller(self, node: str | None) -> Grant:
        """The grant of ``node``; a certificate of the CA naming no known node gets none.

        Raises:
            Forbidden: the certificate names no node of the configuration.
        """
        grant = self.grants.get(node or "")
        if grant is None:
            raise Forbidden(f"the client certificate names no node the registrar knows ({node or 'none'})")
        return grant

    @clause("TR 23.701 5.2.2.4")
    def authorise(self, grant: Grant, operation: Operation) -> None:
        """The caller's role allows ``operation`` at all.

        Raises:
            Forbidden: naming the node, its role and the operation.
        """
        if not grant.allows(operation):
            raise Forbidden(f"{grant.node} ({grant.role.value}) may not use {operation.value}")

    def authorise_impu(self, grant: Grant, operation: Operation, impu: str) -> WimpuBlock | None:
        """``operation`` on the entry of ``impu``: an eP-CSCF only inside its blocks.

        Returns:
            The caller's block holding ``impu`` (None for a caller that is not block-scoped).
        """
        self.authorise(grant, operation)
        if grant.role is not Role.EP_CSCF or operation not in BLOCK_SCOPED:
            return None
        for block in grant.blocks:
            if block.holds(impu):
                return block
        raise Forbidden(f"{impu} is outside every block of {grant.node}")

    @clause("TR 23.701 5.2.2.5.2", steps=6)
    def authorise_write(
        self, grant: Grant, impu: str, wimpu: str, external_identity: str | None, ep_cscf: str
    ) -> None:
        """A W6 contact write: the IMPU inside one of the caller's blocks, the entry's
        ``wimpu`` that block, an external identity (option B) of that block's domains, and
        the contact naming the caller as its eP-CSCF.

        Raises:
            Forbidden: with what is outside the caller's authority.
        """
        block = self.authorise_impu(grant, Operation.W6_WRITE, impu)
        if block is None:
            return
        if not block.is_block(wimpu):
            raise Forbidden(f"{impu} belongs to {block.wimpu}, not to {wimpu}")
        if external_identity is not None and not block.serves_domain(external_identity):
            raise Forbidden(
                f"external identity {external_identity} is outside the domains of {block.wimpu} "
                f"({', '.join(block.external_domains) or 'none: not an option B block'})"
            )
        if ep_cscf != grant.serves_as:
            raise Forbidden(f"{grant.node} writes contacts as {grant.serves_as}, not as {ep_cscf}")

    def authorise_entry(self, grant: Grant, wimpu: str) -> None:
        """An entry read by external identity: an eP-CSCF sees only its blocks' entries."""
        if grant.role is Role.EP_CSCF and not any(b.is_block(wimpu) for b in grant.blocks):
            raise Forbidden(f"the entry belongs to {wimpu}, outside every block of {grant.node}")

    @clause("TR 23.701 5.2.2.2")
    def authorise_block(
        self, grant: Grant, operation: Operation, wimpu: str, holder: str | None = None
    ) -> None:
        """A lease claim/release or block read: an eP-CSCF only for its blocks, and a lease
        only under its own identity.

        Raises:
            Forbidden: another eP-CSCF's block, or another holder's name.
        """
        self.authorise(grant, operation)
        if grant.role is not Role.EP_CSCF:
            return
        if not any(b.is_block(wimpu) for b in grant.blocks):
            raise Forbidden(f"block {wimpu} is not one {grant.node} serves or stands by for")
        if holder is not None and holder != grant.holder:
            raise Forbidden(f"{grant.node} holds leases as {grant.holder}, not as {holder}")

