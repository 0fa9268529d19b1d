"""The HSS data set of the reference stack: subscriptions with wildcarded IMPUs (sans-I/O).

TR 23.701 5.2.2.1: the solution "uses the wild carded Public User Identity (wIMPU)
featured defined in 23.228 as is [...] Hence S-CSCF and HSS are not impacted." So this
is a standard HSS data set, reduced to what the flows need:

- a subscription has one private identity (IMPI, an NAI such as
  ``block1@ims.example.net``), the password of SIP digest (IMS AKA is out of scope for a
  reference implementation; the solution profile lists this as an assumption), one
  implicit registration set (TS 23.228) and the name of its S-CSCF;
- the implicit registration set holds at least one distinct IMPU (only a distinct IMPU
  can be registered: solution profile, "Block registration"; the first one is the
  block's representative IMPU) and any number of wildcarded IMPUs (TS 23.003 13.4A);
- a lookup by public identity follows TS 29.228 6.1.4: a distinct IMPU wins over a
  wildcarded IMPU that also matches. It may belong to another subscription.

The data is read from a mapping with the shape of the TOML configuration::

    [[subscription]]
    impi = "block1@ims.example.net"
    password = "secret"
    impus = ["sip:block1@wrtc.ims.example.net"]
    wildcard_impus = ["sip:wrtc-!.*!@block1.ims.example.net"]
    scscf = "sip:scscf.ims.example.net"

Errors: :class:`HssDataError` (a ``ValueError``) for a data set that contradicts
itself; :class:`~reference.sip.errors.WildcardError` from
:meth:`~reference.sip.identity.WildcardImpu.parse` for an expression that does not
compile; :class:`~reference.sip.identity.IdentityError` for an IMPU that is not one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from reference.sip.identity import IdentityTable, WildcardImpu, canonical_identity
from reference.spec import clause

__all__ = ["HssData", "HssDataError", "PublicIdentityLookup", "Subscription"]


class HssDataError(ValueError):
    """The HSS data set is not consistent (duplicate identity, missing field...)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    """One IMS subscription: an IMPI, its digest password, its implicit set, its S-CSCF."""

    impi: str
    "The private user identity (TS 23.003 13.3), the digest ``username``."
    password: str = dataclasses.field(repr=False)
    "The SIP digest password (never shown by ``repr``)."
    distinct_impus: tuple[str, ...]
    "Distinct IMPUs of the implicit registration set, canonical; the first represents it."
    wildcard_impus: tuple[WildcardImpu, ...]
    "Wildcarded IMPUs of the implicit registration set (the wIMPU blocks)."
    scscf: str
    "SIP URI of the S-CSCF assigned to the subscription (the Cx server name)."

    @property
    def representative(self) -> str:
        """The distinct IMPU that represents the set (the one registered for a block)."""
        return self.distinct_impus[0]

    @property
    def implicit_set(self) -> tuple[str, ...]:
        """Every public identity of the set as text: distinct IMPUs first, then wildcards."""
        return self.distinct_impus + tuple(w.text for w in self.wildcard_impus)


class PublicIdentityLookup(NamedTuple):
    """The subscription a public identity belongs to, and the entry it matched."""

    subscription: Subscription
    entry: str | WildcardImpu
    "The distinct IMPU (canonical) equal to the identity, or the wildcarded IMPU matching it."
    identity: str
    "The identity looked up, in canonical form."

    @property
    def wildcarded(self) -> bool:
        """True when the identity matched a wildcarded IMPU rather than a distinct one."""
        return isinstance(self.entry, WildcardImpu)


def _strings(table: Mapping[str, object], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise HssDataError(f"{where}: {key!r} must be a list of strings")
    if not all(isinstance(item, str) for item in value):
        raise HssDataError(f"{where}: {key!r} must be a list of strings")
    return [str(item) for item in value]


def _string(table: Mapping[str, object], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise HssDataError(f"{where}: {key!r} is missing or not a non-empty string")
    return value


class HssData:
    """The subscriptions of the HSS, indexed for the Cx queries the flows make."""

    __slots__ = ("_by_impi", "_by_distinct", "_by_wildcard", "_table")

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        """Index ``subscriptions``.

        Raises:
            HssDataError: two subscriptions share an IMPI, a distinct IMPU or a wildcarded
                IMPU, or a subscription has no distinct IMPU.
        """
        self._index(subscriptions)

    def _index(self, subscriptions: Iterable[Subscription]) -> None:
        self._by_impi: dict[str, Subscription] = {}
        self._by_distinct: dict[str, Subscription] = {}
        self._by_wildcard: dict[WildcardImpu, Subscription] = {}
        for sub in subscriptions:
            if sub.impi in self._by_impi:
                raise HssDataError(f"two subscriptions with the private identity {sub.impi!r}")
            if not sub.distinct_impus:
                raise HssDataError(
                    f"subscription {sub.impi!r} has no distinct IMPU: only a distinct IMPU can be "
                    "registered (solution profile), so its implicit set could never be registered"
                )
            self._by_impi[sub.impi] = sub
            for impu in sub.distinct_impus:
                other = self._by_distinct.setdefault(impu, sub)
                if other is not sub:
                    raise HssDataError(
                        f"distinct IMPU {impu!r} is in two subscriptions: {other.impi!r} and {sub.impi!r}"
                    )
            for wildcard in sub.wildcard_impus:
                other = self._by_wildcard.setdefault(wildcard, sub)
                if other is not sub:
                    raise HssDataError(
                        f"wildcarded IMPU {wildcard.text!r} is in two subscriptions: "
                        f"{other.impi!r} and {sub.impi!r}"
                    )
        self._table = IdentityTable(self._by_distinct, self._by_wildcard)

    def provision_password(self, impi: str, password: str) -> None:
        """Provision a new digest password for the subscription of ``impi`` (an operator's change of
        its credentials): later authentications are checked against it.

        Raises:
            HssDataError: no subscription has that private identity.
        """
        old = self._by_impi.get(impi)
        if old is None:
            raise HssDataError(f"no subscription with the private identity {impi!r}")
        new = dataclasses.replace(old, password=password)
        self._index([new if s is old else s for s in self._by_impi.values()])

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> HssData:
        """Build the data set from ``{"subscription": [{...}, ...]}`` (the TOML shape).

        Raises:
            HssDataError: a missing or mistyped field, or an inconsistent data set.
            WildcardError: a wildcarded IMPU that does not compile.
            IdentityError: a distinct IMPU that is not a public user identity.
        """
        tables = data.get("subscription", [])
        if not isinstance(tables, Sequence) or isinstance(tables, str):
            raise HssDataError("'subscription' must be a list of tables")
        subscriptions: list[Subscription] = []
        for number, table in enumerate(tables, 1):
            where = f"subscription #{number}"
            if not isinstance(table, Mapping):
                raise HssDataError(f"{where} is not a table")
            unknown = set(table) - {"impi", "password", "impus", "wildcard_impus", "scscf"}
            if unknown:
                raise HssDataError(f"{where}: unknown field(s) {sorted(unknown)}")
            subscriptions.append(
                Subscription(
                    impi=_string(table, "impi", where),
                    password=_string(table, "password", where),
                    distinct_impus=tuple(canonical_identity(i) for i in _strings(table, "impus", where)),
                    wildcard_impus=tuple(
                        WildcardImpu.parse(w) for w in _strings(table, "wildcard_impus", where)
                    ),
                    scscf=_string(table, "scscf", where),
                )
            )
        return cls(subscriptions)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every subscription, in the order given."""
        return tuple(self._by_impi.values())

    def subscription_for_impi(self, impi: str) -> Subscription | None:
        """The subscription of a private identity (Cx MAR), or None."""
        return self._by_impi.get(impi)

    @clause("TS 29.228 6.1.4")
    def lookup_public_identity(self, identity: str) -> PublicIdentityLookup | None:
        """The subscription ``identity`` belongs to, a distinct IMPU winning (TS 29.228 6.1.4).

        Returns None for an identity of no subscription.

        Raises:
            IdentityError: ``identity`` is not a public user identity.
            AmbiguousIdentity: two wildcarded IMPUs match and no distinct one does
                (overlapping blocks: a configuration error).
        """
        found = self._table.resolve(identity)
        if found is None:
            return None
        if isinstance(found.entry, WildcardImpu):
            return PublicIdentityLookup(self._by_wildcard[found.entry], found.entry, found.identity)
        return PublicIdentityLookup(self._by_distinct[found.entry], found.entry, found.identity)

    @clause("TS 23.228 5.7.1")
    def serving_scscf(self, identity: str) -> str | None:
        """The S-CSCF serving ``identity`` (the answer to the I-CSCF's LIR), or None if unknown.

        Raises:
            IdentityError: ``identity`` is not a public user identity.
        """
        found = self.lookup_public_identity(identity)
        return None if found is None else found.subscription.scscf
