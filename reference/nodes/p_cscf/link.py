"""A stand-alone P-CSCF's end of the internal interface: IWFs connect here (asyncio).

TR 23.701 5.2.2.2: the IWF and the P-CSCF communicate "through an internal interface";
decomposed, any IWF of the third party may use any of its P-CSCFs. :class:`IwfLinks`
listens for IWFs (``reference.nodes.internal_interface`` frames over TCP) and is the P-CSCF's
:class:`~reference.nodes.p_cscf.service.WicSender`: a flow token names its IWF
(``<iwf name>.<flow id>``), so a terminating request reaches a WIC through whichever
IWF holds its WebSocket. It tells the IWFs which blocks the P-CSCF serves, so they
route WICs to it, and which flows it knows to be open (the P-CSCF keeps the contacts of
open flows when it takes a block over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .service import Pcscf

__all__ = ["IwfLinks"]

log = logging.getLogger("wimpu.p_cscf.link")


class IwfLinks:
    """The IWFs connected to one P-CSCF."""

    def __init__(
        self, *, name: str, host: str = "127.0.0.1", port: int = 0, hello_timeout: float = 2.0
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.hello_timeout = hello_timeout
        self.pcscf: Pcscf | None = None
        self._server: asyncio.Server | None = None
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._flows: dict[str, set[str]] = {}
        "IWF name -> its open flows, as it told."
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def abort(self) -> None:
        """Drop every link at once, as a crash would."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers.values()):
            writer.transport.abort()

    # ----- WicSender -------------------------------------------------------------------

    @staticmethod
    def _iwf_of(flow_token: str) -> str:
        return flow_token.partition(".")[0]  # <IWF name>.<flow id>.<MAC> (iwf/flow_token.py)

    async def send_to_flow(self, flow_token: str, message: Request | Response) -> None:
        """Send to a WIC through the IWF holding its flow.

        Raises:
            TransportFailure: that IWF is not linked, or the flow is not open (430).
        """
        iwf = self._iwf_of(flow_token)
        writer = self._writers.get(iwf)
        if writer is None or flow_token not in self._flows.get(iwf, set()):
            raise TransportFailure(
                f"flow {flow_token} is not open (IWF {iwf or '?'} linked: {writer is not None})"
            )
        writer.write(encode(Sip(flow_token, message)))

    def flow_is_open(self, flow_token: str) -> bool:
        return flow_token in self._flows.get(self._iwf_of(flow_token), set())

    reroutes = True
    "The IWFs re-route a WIC whose block moves to another P-CSCF: its flow stays open."

    def close_flow(self, flow_token: str, reason: str) -> None:
        writer = self._writers.get(self._iwf_of(flow_token))
        if writer is not None:
            writer.write(encode(CloseFlow(flow_token, reason)))

    def serving_changed(self) -> None:
        """Tell every IWF which blocks this P-CSCF serves now (it routes WICs by block)."""
        frame = Serving(self._serving())
        for writer in self._writers.values():
            writer.write(encode(frame))

    def _serving(self) -> tuple[str, ...]:
        pcscf = self.pcscf
        if pcscf is None:
            return ()
        return tuple(str(b.wimpu) for b in pcscf.blocks if pcscf.serves(b))

    # ----- links -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = FrameReader()
        name = ""
        try:
            async with asyncio.timeout(self.hello_timeout):
                hello = await self._next(reader, frames)
            if not isinstance(hello, Hello) or hello.role != "iwf":
                raise LinkError(f"expected an IWF hello first, got {hello!r:.120}")
            name = hello.name
            old = self._writers.pop(name, None)
            if old is not None:
                old.close()
            self._writers[name] = writer
            self._flows[name] = set(hello.flows)
            pcscf = self.pcscf
            assert pcscf is not None, "IwfLinks started without a P-CSCF"
            hello_back = Hello(
                role="p-cscf",
                name=self.name,
                identity=pcscf.keeper.holder if pcscf.keeper else self.name,
                via=f"{pcscf.node.host}:{pcscf.node.port}",
                blocks=tuple(pcscf.blocks),
                serving=self._serving(),
            )
            writer.write(encode(hello_back))
            log.info("P-CSCF %s: IWF %s linked with %d open flow(s)", self.name, name, len(hello.flows))
            while (frame := await self._next(reader, frames)) is not None:
                self._received(name, frame)
        except LinkError as exc:
            log.error(
                "P-CSCF %s: IWF %s broke the internal interface, link dropped: %s",
                self.name,
                name or "?",
                exc,
            )
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.warning("P-CSCF %s: link from IWF %s lost: %s", self.name, name or "?", exc)
        finally:
            writer.close()
            if name and self._writers.get(name) is writer:
                del self._writers[name]
                # Its flows may live on; they are unreachable from here until it links again.
                self._flows.pop(name, None)
                log.info("P-CSCF %s: IWF %s unlinked", self.name, name)

    def _received(self, iwf: str, frame: Frame) -> None:
        pcscf = self.pcscf
        assert pcscf is not None
        if isinstance(frame, Sip):
            self._spawn(pcscf.from_wic(frame.message, frame.flow, frame.identity))
        elif isinstance(frame, FlowOpened):
            self._flows.setdefault(iwf, set()).add(frame.flow)
        elif isinstance(frame, FlowClosed):
            self._flows.get(iwf, set()).discard(frame.flow)
            pcscf.flow_closed(frame.flow)
        else:
            raise LinkError(f"unexpected frame from an IWF: {type(frame).__name__}")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
