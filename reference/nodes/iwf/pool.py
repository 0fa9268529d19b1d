"""A stand-alone IWF's links to the P-CSCFs of its third party (asyncio shell of ``routing``).

TR 23.701 5.2.2.2: "The IWF can communicate with any P-CSCF [...] The IWFs can scale
separately then the P-CSCFs." :class:`PcscfPool` is the IWF's
:class:`~reference.nodes.iwf.service.PcscfPort` when the P-CSCFs run elsewhere: it keeps
one TCP link (``internal`` frames) to each configured P-CSCF, reconnecting after a loss,
and carries out what :class:`~reference.nodes.iwf.routing.PcscfRouter` decides.

A P-CSCF that breaks the interface (garbage, an unparsable SIP message, no hello) is
logged with the reason and its link dropped: the WICs' requests pending there get 503
with Retry-After, new ones go to another P-CSCF serving the block or get the same 503,
and the link is tried again every ``reconnect`` seconds until the P-CSCF behaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reference.nodes.internal_interface import (
    CloseFlow,
    FlowClosed,
    FlowOpened,
    Frame,
    FrameReader,
    Hello,
    LinkError,
    Serving,
    Sip,
    encode,
)
from reference.sip.message import Request, Response
from reference.transport.endpoint import TransportFailure

from .routing import Action, Forward, PcscfRouter, Reply

if TYPE_CHECKING:
    from .service import Iwf

__all__ = ["PcscfPool", "PcscfTarget"]

log = logging.getLogger("wimpu.iwf.pool")


@dataclasses.dataclass(frozen=True, slots=True)
class PcscfTarget:
    """Where a P-CSCF's end of the internal interface listens."""

    name: str
    host: str
    port: int


class PcscfPool:
    """The IWF's P-CSCFs, each over its own link."""

    def __init__(
        self,
        iwf: Iwf,
        targets: Sequence[PcscfTarget],
        *,
        retry_after: int = 2,
        reconnect: float = 0.2,
        hello_timeout: float = 2.0,
    ) -> None:
        self.iwf = iwf
        self.targets = list(targets)
        self.router = PcscfRouter(name=iwf.name, retry_after=retry_after)
        self.reconnect = reconnect
        self.hello_timeout = hello_timeout
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped: dict[str, int] = {t.name: 0 for t in targets}
        "How many times each P-CSCF's link was lost (garbage, close, refused connection)."

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._keep(t), name=f"link-{t.name}") for t in self.targets]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for writer in list(self._writers.values()):
            writer.close()
        self._writers.clear()

    def up(self, name: str) -> bool:
        return name in self._writers

    # ----- PcscfPort -------------------------------------------------------------------

    async def from_wic(self, message: Request | Response, flow_token: str, identity: str | None) -> None:
        await self._carry_out(self.router.from_wic(flow_token, message, identity))

    def flow_opened(self, flow_token: str) -> None:
        self._broadcast(FlowOpened(flow_token))

    def flow_closed(self, flow_token: str) -> None:
        self.router.flow_closed(flow_token)
        self._broadcast(FlowClosed(flow_token))

    # ----- links ---------------------------------------------------------------------

    def _broadcast(self, frame: Frame) -> None:
        for writer in self._writers.values():
            writer.write(encode(frame))

    async def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Forward):
                writer = self._writers.get(action.link)
                if writer is None:
                    log.warning(
                        "IWF %s: P-CSCF %s went away before a message could go", self.iwf.name, action.link
                    )
                    continue
                writer.write(encode(action.frame))
            else:
                message = action.message
                if isinstance(action, Reply):
                    log.warning(
                        "IWF %s: answered %s on %s itself", self.iwf.name, message.summary(), action.flow
                    )
                try:
                    await self.iwf.send_to_flow(action.flow, message)
                except TransportFailure as exc:
                    log.info("IWF %s: could not reach WIC on %s: %s", self.iwf.name, action.flow, exc)

    async def _keep(self, target: PcscfTarget) -> None:
        """Keep one link up: connect, hello, relay; after any loss wait and start again."""
        failing = False
        while True:
            try:
                reader, writer = await asyncio.open_connection(target.host, target.port)
            except OSError as exc:
                if not failing:
                    log.warning(
                        "IWF %s: P-CSCF %s unreachable (retrying): %s", self.iwf.name, target.name, exc
                    )
                failing = True
                await asyncio.sleep(self.reconnect)
                continue
            failing = False
            try:
                await self._relay(target, reader, writer)
                log.warning("IWF %s: P-CSCF %s closed the internal link", self.iwf.name, target.name)
            except LinkError as exc:
                log.error(
                    "IWF %s: P-CSCF %s broke the internal interface, link dropped: %s",
                    self.iwf.name, target.name, exc,
                )  # fmt: skip
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.warning("IWF %s: link to P-CSCF %s lost: %s", self.iwf.name, target.name, exc)
            finally:
                writer.close()
                if self._writers.get(target.name) is writer:
                    del self._writers[target.name]
                    self.dropped[target.name] += 1
                    await self._carry_out(self.router.link_down(target.name))
            await asyncio.sleep(self.reconnect)

    async def _relay(
        self, target: PcscfTarget, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        frames = FrameReader()
        flows = tuple(self.iwf.flow_token(flow) for flow, _ in self.iwf.listener.flows.values())
        writer.write(encode(Hello(role="iwf", name=self.iwf.name, identity=self.iwf.identity, flows=flows)))
        async with asyncio.timeout(self.hello_timeout):
            hello = await self._next(reader, frames)
        if not isinstance(hello, Hello) or hello.role != "p-cscf":
            raise LinkError(f"expected a P-CSCF hello first, got {hello!r:.120}")
        self._writers[target.name] = writer
        log.info(
            "IWF %s: link to P-CSCF %s (%s) up; it serves %s",
            self.iwf.name, target.name, hello.identity, ", ".join(hello.serving) or "no block yet",
        )  # fmt: skip
        await self._carry_out(self.router.link_up(target.name, hello))
        while True:
            frame = await self._next(reader, frames)
            if frame is None:
                return
            if isinstance(frame, Sip):
                await self._carry_out(self.router.from_pcscf(target.name, frame))
            elif isinstance(frame, Serving):
                log.info(
                    "IWF %s: P-CSCF %s serves %s",
                    self.iwf.name,
                    target.name,
                    ", ".join(frame.serving) or "no block",
                )
                await self._carry_out(self.router.serving(target.name, frame.serving))
            elif isinstance(frame, CloseFlow):
                self.iwf.close_flow(frame.flow, frame.reason)
            else:
                raise LinkError(f"unexpected frame from a P-CSCF: {type(frame).__name__}")

    @staticmethod
    async def _next(reader: asyncio.StreamReader, frames: FrameReader) -> Frame | None:
        while True:
            frame = frames.next_frame()
            if frame is not None:
                return frame
            data = await reader.read(65536)
            if not data:
                return None
            frames.receive_data(data)
