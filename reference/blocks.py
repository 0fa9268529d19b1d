"""The wIMPU block: one model for every node, the harness and the verifier (sans-I/O).

TR 23.701 5.2.2.1: "A block of wIMPU is allocated to a third party"; the individual
IMPU a WIC registers with is either allocated by the third party (option A: the WIC
registers with an IMPU inside the block) or by the eP-CSCF (option B: the WIC
registers with its external identity and the eP-CSCF allocates an IMPU of the block).

:class:`WimpuBlock` holds the facts of a block that do not depend on where it is
deployed (its wildcarded IMPU, who allocates, option B's external domains and
allocation prefix, its short name); :func:`block_of` finds the block of an identity.
Deployment records (``reference.stack.BlockSpec``, ``conformance.pixit.Block``, the
WWSF's directory entry) add the eP-CSCF serving the block and hold a
:class:`WimpuBlock`. This module is a leaf: it imports the SIP core and the standard
library only.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
from collections.abc import Iterable
from typing import Literal

from reference.sip.identity import IdentityError, WildcardImpu, canonical_identity

__all__ = ["Allocation", "WimpuBlock", "block_of"]


class Allocation(enum.Enum):
    """Who allocates the individual IMPU of a block (TR 23.701 5.2.2.1, per block).

    The values are the interface's spelling (IWF <-> P-CSCF frames, W6 ``allocated_by``);
    configuration files use the letters of the text, ``A`` and ``B``
    (:meth:`from_letter`, :attr:`letter`).
    """

    THIRD_PARTY = "third-party"
    "Option A: the WIC registers with an individual IMPU inside the block."
    EP_CSCF = "ep-cscf"
    "Option B: the WIC registers with its external identity; the eP-CSCF allocates."

    @property
    def letter(self) -> Literal["A", "B"]:
        """``A`` (third party allocates) or ``B`` (eP-CSCF allocates), as in 5.2.2.1."""
        return "A" if self is Allocation.THIRD_PARTY else "B"

    @classmethod
    def from_letter(cls, letter: str) -> Allocation:
        """The allocation of option ``A`` or ``B`` (TR 23.701 5.2.2.1).

        Raises:
            ValueError: neither ``A`` nor ``B``.
        """
        if letter == "A":
            return cls.THIRD_PARTY
        if letter == "B":
            return cls.EP_CSCF
        raise ValueError(
            f"option must be 'A' (third party allocates) or 'B' (eP-CSCF allocates), not {letter!r}"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class WimpuBlock:
    """One wIMPU block (TR 23.701 5.2.2.1): its wildcard and who allocates its IMPUs."""

    wimpu: WildcardImpu
    allocation: Allocation
    external_domains: tuple[str, ...] = ()
    "Option B: the domains of the external identities this block serves."
    prefix: str = "wrtc-"
    "Option B: user-part prefix of allocated IMPUs (must match the wildcard)."
    name: str = "block"
    "A short name (the user part of the block's contact at the S-CSCF, of its IMPI)."

    @classmethod
    def parse(
        cls,
        wimpu: str,
        option: str,
        external_domains: Iterable[str] = (),
        *,
        prefix: str = "wrtc-",
        name: str = "block",
    ) -> WimpuBlock:
        """A block from the texts of a configuration file (``option`` is ``A`` or ``B``).

        Raises:
            WildcardError: ``wimpu`` is not a valid wildcarded IMPU (a ValueError).
            ValueError: ``option`` is neither ``A`` nor ``B``.
        """
        return cls(
            WildcardImpu.parse(wimpu), Allocation.from_letter(option), tuple(external_domains), prefix, name
        )

    @property
    def option(self) -> Literal["A", "B"]:
        """``A`` or ``B``: the letter of :attr:`allocation`."""
        return self.allocation.letter

    def allocate(self, external: str) -> str:
        """TR 23.701 5.2.2.1 option B (5.2.2.5.2 step 6): the individual IMPU the eP-CSCF
        allocates for an external identity.

        Deterministic (a hash of the canonical external identity), so every eP-CSCF
        instance serving the block gives the same answer without shared state; the
        registrar's binding check (409 on conflict) catches a collision.

        Raises:
            IdentityError: ``external`` is not a valid public user identity.
            ValueError: the allocated IMPU does not match the wildcard (bad prefix).
        """
        digest = hashlib.sha256(canonical_identity(external).encode()).digest()
        user = self.prefix + base64.b32encode(digest[:10]).decode().lower()
        host = self.wimpu.host or ""
        impu = f"sip:{user}@{host}"
        if not self.wimpu.matches(impu):
            raise ValueError(f"allocated IMPU {impu} does not match block {self.wimpu}")
        return impu

    def holds(self, impu: str) -> bool:
        """TR 23.701 5.2.2.1 (TS 23.003 13.4A): ``impu`` is an individual IMPU of this
        block (given by the third party, or allocated by the eP-CSCF). Never raises: a
        malformed identity is in no block."""
        try:
            return self.wimpu.matches(impu)
        except IdentityError:
            return False

    def serves_domain(self, identity: str) -> bool:
        """TR 23.701 5.2.2.1 option B: ``identity`` is an external identity of one of
        this block's domains (compared without case and port). Never raises."""
        if self.allocation is not Allocation.EP_CSCF:
            return False
        domain = _domain(identity)
        return domain is not None and domain in {d.lower() for d in self.external_domains}

    def serves(self, identity: str) -> bool:
        """TR 23.701 5.2.2.1: a WIC registering with ``identity`` belongs to this block:
        option A, an IMPU inside the wildcard; option B, an external identity of one of
        its domains. Never raises: a malformed identity is served by no block."""
        if self.allocation is Allocation.THIRD_PARTY:
            return self.holds(identity)
        return self.serves_domain(identity)

    def is_block(self, wimpu: str) -> bool:
        """``wimpu`` names this block's wildcarded IMPU (compared parsed). Never raises."""
        try:
            return WildcardImpu.parse(wimpu) == self.wimpu
        except ValueError:
            return False


def _domain(identity: str) -> str | None:
    """The lower-case host (without port) of a sip:/sips: identity; None otherwise."""
    try:
        canonical = canonical_identity(identity)
    except IdentityError:
        return None
    host = canonical.partition("@")[2]
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0] or None


def block_of(blocks: Iterable[WimpuBlock], identity: str, *, allocated: bool = False) -> WimpuBlock | None:
    """TR 23.701 5.2.2.1: the block an identity belongs to, or None.

    First the option A block whose wildcard the identity matches, then the option B
    block of the identity's domain. With ``allocated``, the first pass takes any block
    whose wildcard matches, so an IMPU the eP-CSCF allocated (option B) finds its block
    too (what an observer of the traffic needs; a WIC registers with its external
    identity).

    Raises:
        IdentityError: ``identity`` is not a valid sip:, sips: or tel: identity.
    """
    canonical_identity(identity)  # raises for a malformed identity
    blocks = list(blocks)
    for block in blocks:
        if (allocated or block.allocation is Allocation.THIRD_PARTY) and block.holds(identity):
            return block
    return next((block for block in blocks if block.serves_domain(identity)), None)
