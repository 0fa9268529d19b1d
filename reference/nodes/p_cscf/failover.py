"""The eP-CSCF's side of block re-allocation (TR 23.701 5.2.2.2): keep, claim and lose leases.

:class:`BlockKeeper` drives one :class:`~.lease.BlockLease` per block the eP-CSCF may
serve (its own, and those it stands by for) over W6, on the event loop's clock, and
tells the P-CSCF (a :class:`BlockOwner`) when it must start or stop serving a block.
Why a lease in the wIMPU Registrar decides, and the timings: :mod:`.lease` and
``docs/failover.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from reference.nodes.wimpu_registrar.client import (
    LeaseHeld,
    RegistrarClient,
    RegistrarRejected,
    RegistrarUnavailable,
)
from reference.spec import clause

from .lease import Acquired, BlockLease, LeaseTiming, Lost, Role, State

__all__ = ["BlockKeeper", "BlockOwner"]

log = logging.getLogger("wimpu.p_cscf.failover")

Access = Callable[[], "dict[str, str] | None"]


class BlockOwner(Protocol):
    """What serves the blocks (the P-CSCF): told to start or stop serving one."""

    async def take_block(self, wimpu: str, previous: str | None) -> None: ...

    async def drop_block(self, wimpu: str, holder: str) -> None: ...


class BlockKeeper:
    """Claims, renews and loses the leases of the blocks of one eP-CSCF (or P-CSCF).

    Args:
        holder: the identity the leases are held under.
        registrar: the W6 client.
        timing: lease duration, renewal, standby delay, retry.
        roles: wildcarded IMPU of each block -> primary or standby.
        access: where WICs reach this eP-CSCF (for the WWSF directory), read at each
            claim; None when the directory does not follow this holder.
        clock: monotonic seconds (the loop's clock by default).
    """

    def __init__(
        self,
        *,
        holder: str,
        registrar: RegistrarClient,
        timing: LeaseTiming,
        roles: Mapping[str, Role],
        access: Access | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.holder = holder
        self.registrar = registrar
        self.timing = timing
        self.clock = clock
        self.access = access or (lambda: None)
        now = clock()
        self.leases = {w: BlockLease(w, holder, role, timing, now) for w, role in roles.items()}
        self.owner: BlockOwner | None = None
        self._task: asyncio.Task[None] | None = None
        self._actions: dict[str, asyncio.Lock] = {w: asyncio.Lock() for w in roles}
        self._pending: set[asyncio.Task[None]] = set()
        self._failing: set[str] = set()
        "Blocks whose last claim found the registrar unreachable (logged once per outage)."
        self.history: list[tuple[float, str, str]] = []
        "(wall-clock time, block, what happened): acquired/lost/released, for tests and logs."

    def serving(self, wimpu: str) -> bool:
        """True while this eP-CSCF holds the block's lease."""
        lease = self.leases.get(wimpu)
        return lease is not None and lease.state is State.HOLDING

    def owner_of(self, wimpu: str) -> str | None:
        """Who holds the block's lease, as last heard."""
        lease = self.leases.get(wimpu)
        return None if lease is None else lease.owner

    # ----- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Claim the primary blocks now (serving them before returning), then keep going."""
        now = self.clock()
        first = [lease for lease in self.leases.values() if lease.claim_due(now)]
        events = await asyncio.gather(*(self._claim(lease) for lease in first))
        for event in events:
            if event is not None:
                await self._act(event)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"leases-{self.holder}")

    async def stop(self, *, release: bool) -> None:
        """Stop renewing; with ``release``, give the held leases up (a graceful stop)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._pending):
            task.cancel()
        if release:
            for lease in self.leases.values():
                if lease.state is State.HOLDING:
                    with contextlib.suppress(RegistrarUnavailable, RegistrarRejected):
                        await self.registrar.release_lease(lease.wimpu, self.holder)
                        self.history.append((time.time(), lease.wimpu, "released"))
                        log.info("block %s: lease released by %s", lease.wimpu, self.holder)

    # ----- the loop --------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            now = self.clock()
            due = [lease for lease in self.leases.values() if lease.claim_due(now)]
            for event in await asyncio.gather(*(self._claim(lease) for lease in due)):
                if event is not None:
                    self._spawn(self._act(event))
            wake = min(lease.get_timer() for lease in self.leases.values())
            await asyncio.sleep(max(0.0, wake - self.clock()))

    @clause("TR 23.701 5.2.2.2")
    async def _claim(self, lease: BlockLease) -> Acquired | Lost | None:
        """One claim (or renewal) of a block's lease over W6: the re-allocation of a block
        to this eP-CSCF if its holder failed (TR 23.701 5.2.2.2)."""
        try:
            answer = await self.registrar.claim_lease(
                lease.wimpu, self.holder, lease.timing.duration, self.access()
            )
        except LeaseHeld as held:
            if held.holder != lease.owner:
                log.info(
                    "block %s: served by %s (%.3f s left on its lease); %s stands by",
                    lease.wimpu, held.holder, held.remaining, self.holder,
                )  # fmt: skip
            self._recovered(lease)
            return lease.receive_held(self.clock(), holder=held.holder, remaining=held.remaining)
        except (RegistrarUnavailable, RegistrarRejected) as exc:
            if lease.wimpu not in self._failing:
                what = "renewal failed, still serving" if lease.state is State.HOLDING else "claim failed"
                log.warning(
                    "block %s: lease %s (retrying every %.2f s): %s",
                    lease.wimpu,
                    what,
                    lease.timing.retry,
                    exc,
                )
            self._failing.add(lease.wimpu)
            lease.receive_unreachable(self.clock())
            return None
        self._recovered(lease)
        return lease.receive_granted(
            self.clock(), previous=answer.previous_holder, generation=answer.lease.generation
        )

    def _recovered(self, lease: BlockLease) -> None:
        if lease.wimpu in self._failing:
            log.warning("block %s: wIMPU Registrar reachable again", lease.wimpu)
            self._failing.discard(lease.wimpu)

    async def _act(self, event: Acquired | Lost) -> None:
        async with self._actions[event.wimpu]:
            if isinstance(event, Acquired):
                self.history.append((time.time(), event.wimpu, f"acquired from {event.previous}"))
                log.warning(
                    "block %s: lease acquired by %s (previous holder %s, generation %d)",
                    event.wimpu, self.holder, event.previous, event.generation,
                )  # fmt: skip
                if self.owner is not None:
                    await self.owner.take_block(event.wimpu, event.previous)
            else:
                self.history.append((time.time(), event.wimpu, f"lost to {event.holder}"))
                log.warning("block %s: lease lost by %s to %s", event.wimpu, self.holder, event.holder)
                if self.owner is not None:
                    await self.owner.drop_block(event.wimpu, event.holder)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("block lease action failed", exc_info=task.exception())
