"""An emulated WIC (WebRTC IMS Client): web login at the WWSF, then SIP over WSS.

It plays TR 23.701 5.2.2.5.2 steps 1-3 from the client side with real HTTPS, a real WSS
connection (RFC 7118: subprotocol ``sip``, ``.invalid`` Via and Contact hosts, one SIP
message per WebSocket message) and the JsSIP dialect by default (``+sip.instance``,
``reg-id``, ``Supported: path, gruu, outbound``, ``Authorization: Bearer``).

Every message the WIC sends or receives is kept in :attr:`Wic.sent` and
:attr:`Wic.received` as raw bytes, so checks can compare what the harness saw with what
was captured on the wire.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import ssl
import uuid
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response

__all__ = ["HandshakeRefused", "Login", "Wic"]


class HandshakeRefused(Exception):
    """The eP-CSCF refused the WebSocket handshake (step 2)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"WebSocket handshake refused with HTTP {status}")
        self.status = status


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    """What the WWSF returned for a successful web login (step 1)."""

    identity: str
    token: str = dataclasses.field(repr=False)
    ep_cscf_url: str
    expires_in: int

    def __repr__(self) -> str:  # never show the token (tooling notes: allure repr())
        return f"Login(identity={self.identity!r}, ep_cscf_url={self.ep_cscf_url!r})"


async def web_login(wwsf_origin: str, username: str, password: str, ssl_context: ssl.SSLContext) -> Login:
    """Step 1: HTTPS to the WWSF, web authentication, security token issued."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{wwsf_origin}/login", json={"username": username, "password": password}, ssl=ssl_context
        ) as r:
            body: dict[str, Any] = await r.json(content_type=None)
            if r.status != 200:
                raise PermissionError(f"WWSF login refused ({r.status}): {body.get('detail')}")
    return Login(
        identity=body["identity"],
        token=body["token"],
        ep_cscf_url=body["ep_cscf"]["uri"] if isinstance(body["ep_cscf"], dict) else body["ep_cscf"],
        expires_in=int(body["expires_in"]),
    )


class Wic:
    """One WIC instance: one WebSocket connection, one Contact."""

    def __init__(self, name: str, *, ssl_context: ssl.SSLContext, timeout: float = 3.0) -> None:
        self.name = name
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.host = f"{secrets.token_hex(6)}.invalid"
        self.contact_user = secrets.token_hex(4)
        self.instance = f"urn:uuid:{uuid.uuid4()}"
        self.call_id = f"{secrets.token_hex(8)}@{self.host}"
        self.from_tag = secrets.token_hex(5)
        self.cseq = 0
        self.connection: ClientConnection | None = None
        self.sent: list[bytes] = []
        self.received: list[bytes] = []
        self._inbox: asyncio.Queue[Request | Response] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    # ----- step 2 --------------------------------------------------------------------

    async def connect(
        self, url: str, *, origin: str | None, subprotocols: tuple[str, ...] = ("sip",)
    ) -> None:
        """Step 2: open the WSS connection to the eP-CSCF, with the page's Origin."""
        try:
            self.connection = await connect(
                url,
                ssl=self.ssl_context if url.startswith("wss:") else None,
                origin=origin,  # type: ignore[arg-type]
                subprotocols=list(subprotocols),  # type: ignore[arg-type]
                open_timeout=self.timeout,
            )
        except InvalidStatus as exc:
            raise HandshakeRefused(exc.response.status_code) from None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.connection is not None
        try:
            async for data in self.connection:
                raw = data.encode() if isinstance(data, str) else data
                self.received.append(raw)
                await self._inbox.put(frame_websocket_message(raw))
        except Exception:  # noqa: BLE001 - a closed connection ends the reader
            return

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self._reader is not None:
            self._reader.cancel()

    # ----- step 3 --------------------------------------------------------------------

    def register_request(
        self,
        identity: str,
        *,
        token: str | None,
        expires: int = 600,
        registrar: str | None = None,
        contact_star: bool = False,
    ) -> Request:
        """The REGISTER of step 3, in the JsSIP dialect."""
        self.cseq += 1
        domain = identity.partition("@")[2] or identity
        headers = [
            ("Via", f"SIP/2.0/WSS {self.host};branch=z9hG4bK{secrets.token_hex(8)}"),
            ("Max-Forwards", "69"),
            ("To", f"<{identity}>"),
            ("From", f"<{identity}>;tag={self.from_tag}"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
        ]
        if contact_star:
            headers.append(("Contact", "*"))
        else:
            headers.append(
                (
                    "Contact",
                    f"<sip:{self.contact_user}@{self.host};transport=ws>"
                    f';+sip.instance="<{self.instance}>";reg-id=1;expires={expires}',
                )
            )
        headers.append(("Expires", str(expires)))
        if token is not None:
            headers.append(("Authorization", f"Bearer {token}"))
        headers += [
            ("Supported", "path, gruu, outbound"),
            ("User-Agent", f"wimpu-harness-wic {self.name}"),
            ("Content-Length", "0"),
        ]
        text = f"REGISTER sip:{registrar or domain} SIP/2.0\r\n"
        text += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        message = frame_websocket_message(text)
        assert isinstance(message, Request)
        return message

    async def send(self, message: Request | Response) -> None:
        assert self.connection is not None, "connect() first"
        raw = message.to_bytes()
        self.sent.append(raw)
        await self.connection.send(raw.decode())

    async def request(self, request: Request) -> Response:
        """Send a request and wait for its final response (provisionals skipped)."""
        await self.send(request)
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(self._inbox.get(), max(remaining, 0.01))
            except TimeoutError:
                raise TimeoutError(
                    f"{self.name}: no final response to {request.method} (CSeq {request.cseq.number}) "
                    f"within {self.timeout}s"
                ) from None
            if isinstance(message, Response) and message.cseq == request.cseq and message.is_final:
                return message

    async def register(self, identity: str, *, token: str | None, expires: int = 600) -> Response:
        return await self.request(self.register_request(identity, token=token, expires=expires))
