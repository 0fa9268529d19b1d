"""The HTTP side of block leases (failover) and of a block's registrations (W6).

::

    GET    /w6/v1/blocks                            every block's lease (the WWSF reads them)
    GET    /w6/v1/blocks/{wimpu}/lease              one block's lease
    PUT    /w6/v1/blocks/{wimpu}/lease              claim or renew (200), or 409 with the holder
    DELETE /w6/v1/blocks/{wimpu}/lease?holder=H     give the lease up (graceful stop)
    GET    /w6/v1/blocks/{wimpu}/registrations      the live entries of the block

See :mod:`.leases` for why a lease decides which eP-CSCF serves a block. The routes are
added to the registrar's application by :class:`LeaseRoutes`; errors are the
registrar's problem documents (its middleware turns :class:`.model.RegistrarError`
into them). Each route asks the service's ``authorise`` first (:mod:`.access`): an
eP-CSCF claims and releases only its own blocks' leases, under its own identity.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from reference.spec import clause

from .access import Operation
from .leases import Lease, LeaseHeldError, parse_lease_claim
from .model import Entry, NotFoundError, ValidationError, check_wimpu
from .store import Store

__all__ = ["LeaseRoutes", "lease_json", "lease_problem_members"]


def _iso(epoch: float) -> str:
    stamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lease_json(lease: Lease, now: float) -> dict[str, object]:
    """The JSON form of a lease; ``expires`` is the time left in seconds (ms precision)."""
    return {
        "wimpu": lease.wimpu,
        "holder": lease.holder,
        "access": None if lease.access is None else dict(lease.access),
        "duration": lease.duration,
        "live": lease.live(now),
        "expires": round(lease.remaining(now), 3),
        "expires_at": _iso(lease.expires_at),
        "released": lease.released,
        "generation": lease.generation,
        "acquired_at": _iso(lease.acquired_at),
        "renewed_at": _iso(lease.renewed_at),
    }


def lease_problem_members(exc: LeaseHeldError) -> dict[str, object]:
    """The extension members of the 409 problem document: who holds the block, until when."""
    return {
        "holder": exc.lease.holder,
        "expires": round(exc.lease.remaining(exc.now), 3),
        "generation": exc.lease.generation,
    }


class LeaseRoutes:
    """The lease and block routes of the registrar service.

    Args:
        store: the open store (a callable: it exists only while the service runs).
        clock: the service's clock.
        json_body: the service's JSON body reader (415, 413 and 400 checks).
        entry_json: the service's JSON form of an entry.
        authorise: ``(request, operation, wimpu or None, holder or None)``; raises
            :class:`.access.Forbidden` when the caller may not.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        clock: Callable[[], float],
        json_body: Callable[[web.Request], Awaitable[object]],
        entry_json: Callable[[Entry, float], dict[str, object]],
        authorise: Callable[[web.Request, Operation, str | None, str | None], None],
    ) -> None:
        self._authorise = authorise
        self._store = store
        self._clock = clock
        self._json_body = json_body
        self._entry_json = entry_json

    def add_to(self, app: web.Application) -> None:
        base = "/w6/v1/blocks"
        app.router.add_get(base, self._list, allow_head=False)
        app.router.add_get(base + "/{wimpu}/lease", self._read, allow_head=False)
        app.router.add_put(base + "/{wimpu}/lease", self._claim)
        app.router.add_delete(base + "/{wimpu}/lease", self._release)
        app.router.add_get(base + "/{wimpu}/registrations", self._registrations, allow_head=False)

    @staticmethod
    def _no_query(request: web.Request) -> None:
        if request.query:
            raise ValidationError(next(iter(request.query)), "no query parameter is allowed")

    async def _list(self, request: web.Request) -> web.Response:
        self._no_query(request)
        self._authorise(request, Operation.LEASE_READ, None, None)
        now = self._clock()
        return web.json_response({"leases": [lease_json(lease, now) for lease in self._store().all_leases()]})

    async def _read(self, request: web.Request) -> web.Response:
        self._no_query(request)
        now = self._clock()
        wimpu = check_wimpu(request.match_info["wimpu"])
        self._authorise(request, Operation.LEASE_READ, None, None)
        lease = self._store().lease(wimpu)
        if lease is None:
            raise NotFoundError(f"block {wimpu} has no lease")
        return web.json_response(lease_json(lease, now))

    @clause("TR 23.701 5.2.2.2")
    async def _claim(self, request: web.Request) -> web.Response:
        """Claim or renew a block's lease: the re-allocation of a block (5.2.2.2)."""
        self._no_query(request)
        wimpu = check_wimpu(request.match_info["wimpu"])
        self._authorise(request, Operation.LEASE_WRITE, wimpu, None)
        claim = parse_lease_claim(await self._json_body(request))
        self._authorise(request, Operation.LEASE_WRITE, wimpu, claim.holder)
        now = self._clock()
        lease, outcome, previous = self._store().claim_lease(wimpu, claim, now)
        body: dict[str, Any] = {
            "outcome": outcome.value,
            "previous_holder": previous,
            "lease": lease_json(lease, now),
        }
        return web.json_response(body)

    async def _release(self, request: web.Request) -> web.Response:
        unknown = sorted(set(request.query) - {"holder"})
        if unknown:
            raise ValidationError(unknown[0], f"unknown query parameter {unknown[0]!r}")
        holders = request.query.getall("holder", [])
        if len(holders) != 1 or not holders[0]:
            raise ValidationError("holder", "query parameter 'holder' is required exactly once")
        wimpu = check_wimpu(request.match_info["wimpu"])
        self._authorise(request, Operation.LEASE_WRITE, wimpu, holders[0])
        self._store().release_lease(wimpu, holders[0], self._clock())
        return web.Response(status=204)

    async def _registrations(self, request: web.Request) -> web.Response:
        self._no_query(request)
        now = self._clock()
        wimpu = check_wimpu(request.match_info["wimpu"])
        self._authorise(request, Operation.BLOCK_READ, wimpu, None)
        entries = self._store().block_entries(wimpu, now)
        return web.json_response({"entries": [self._entry_json(e, now) for e in entries]})
