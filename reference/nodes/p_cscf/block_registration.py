"""Block registration of a wIMPU range with IMS (TR 23.701 5.2.2.5.1), the eP-CSCF as UAC.

"A single IMS registration is required to register the wIMPU block as per existing
23.228 procedures. The eP-CSCF would need to trigger the IMS registration of the wIMPU
block with IMS." Only a distinct IMPU can be registered: the block's representative
IMPU, whose implicit registration set holds the wildcarded IMPU (solution profile).

Option 1: registered autonomously at start-up; option 2: on the first WIC registration
for the block. Authentication is SIP digest against the HSS data set (IMS AKA is out of
scope for the reference, a profile assumption).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Sequence

from reference.sip.address import NameAddr, parse_uri
from reference.sip.digest import digest_response, parse_auth_params
from reference.sip.message import Header, Request, Response
from reference.spec import clause
from reference.transport.endpoint import Target
from reference.transport.sip_node import SipNode

__all__ = ["BlockCredentials", "BlockRegistration", "BlockRegistrationError"]

log = logging.getLogger("wimpu.p_cscf.block")


class BlockRegistrationError(Exception):
    """The block could not be registered (the S-CSCF refused, or did not answer)."""


@dataclasses.dataclass(frozen=True, slots=True)
class BlockCredentials:
    """What the eP-CSCF needs to register one block."""

    wimpu: str
    representative: str
    "The distinct IMPU registered for the block (To and From of the REGISTER)."
    impi: str
    password: str = dataclasses.field(repr=False)
    registrar: str
    "The S-CSCF (or home registrar) Request-URI, e.g. ``sip:ims.example.net``."
    option: int = 1
    "5.2.2.5.1 option 1 (at start-up) or 2 (on the first WIC registration)."
    expires: int = 600


class BlockRegistration:
    """One block's registration state and its REGISTER transactions."""

    def __init__(self, node: SipNode, credentials: BlockCredentials, target: Target, name: str) -> None:
        self.node = node
        self.credentials = credentials
        self.target = target
        self.contact_user = name
        self.call_id = f"{secrets.token_hex(8)}@{node.host}"
        self.from_tag = secrets.token_hex(5)
        self.cseq = 0
        self.service_route: tuple[str, ...] = ()
        self.associated: tuple[str, ...] = ()
        self.registered = False
        self._lock = asyncio.Lock()
        self._refresh: asyncio.TimerHandle | None = None

    @property
    def contact(self) -> str:
        return f"<sip:{self.contact_user}@{self.node.host}:{self.node.port};transport=tcp>"

    @property
    def path(self) -> str:
        """RFC 3327: the eP-CSCF stays on the path of terminating requests for the block."""
        return f"<sip:term@{self.node.host}:{self.node.port};transport=tcp;lr>"

    def _register_request(
        self, expires: int, authorization: str | None, contacts: Sequence[str] | None = None
    ) -> Request:
        self.cseq += 1
        c = self.credentials
        headers = [
            Header("Max-Forwards", "70"),
            Header("To", f"<{c.representative}>"),
            Header("From", f"<{c.representative}>;tag={self.from_tag}"),
            Header("Call-ID", self.call_id),
            Header("CSeq", f"{self.cseq} REGISTER"),
            *(Header("Contact", f"{contact};expires={expires}") for contact in (contacts or [self.contact])),
            Header("Path", self.path),
            Header("Supported", "path"),
            Header("Expires", str(expires)),
        ]
        if authorization:
            headers.append(Header("Authorization", authorization))
        headers.append(Header("Content-Length", "0"))
        return Request(headers=tuple(headers), body=b"", method="REGISTER", uri=c.registrar)

    def _authorization(self, challenge: str, request: Request) -> str:
        scheme, _, params_text = challenge.partition(" ")
        if scheme.lower() != "digest":
            raise BlockRegistrationError(f"S-CSCF challenged with {scheme}, not Digest")
        params = parse_auth_params(params_text)
        algorithm = params.get("algorithm", "MD5")
        qop = "auth" if "auth" in params.get("qop", "").split(",") else None
        cnonce = secrets.token_hex(8)
        response = digest_response(
            algorithm, username=self.credentials.impi, realm=params["realm"],
            password=self.credentials.password, method="REGISTER", uri=request.uri,
            nonce=params["nonce"], qop=qop, nc="00000001" if qop else None, cnonce=cnonce if qop else None,
        )  # fmt: skip
        parts = [
            f'username="{self.credentials.impi}"', f'realm="{params["realm"]}"', f'nonce="{params["nonce"]}"',
            f'uri="{request.uri}"', f'response="{response}"', f"algorithm={algorithm}",
        ]  # fmt: skip
        if qop:
            parts += [f"qop={qop}", "nc=00000001", f'cnonce="{cnonce}"']
        if "opaque" in params:
            parts.append(f'opaque="{params["opaque"]}"')
        return "Digest " + ", ".join(parts)

    @clause("TR 23.701 5.2.2.5.1")
    async def register(self, expires: int | None = None) -> Response:
        """Register (or refresh, or with ``expires=0`` de-register) the block.

        Raises:
            BlockRegistrationError: the registration was not accepted.
        """
        async with self._lock:
            wanted = self.credentials.expires if expires is None else expires
            request = self._register_request(wanted, None)
            response = await self.node.request(request, self.target)
            if response.status == 401 and response.get("WWW-Authenticate"):
                authorization = self._authorization(response.get("WWW-Authenticate") or "", request)
                response = await self.node.request(self._register_request(wanted, authorization), self.target)
            if response.status != 200:
                self.registered = False
                raise BlockRegistrationError(
                    f"block {self.credentials.wimpu}: REGISTER of {self.credentials.representative} "
                    f"answered {response.status} {response.reason}"
                )
            if wanted == 0:
                self.registered = False
                self.service_route = ()
                return response
            self.service_route = tuple(f"<{a.uri}>" for a in response.addresses("Service-Route"))
            self.associated = tuple(a.uri for a in response.addresses("P-Associated-URI"))
            self.registered = True
            granted = self._granted(response, wanted)
            log.info(
                "block %s registered as %s for %ds; Service-Route %s",
                self.credentials.wimpu,
                self.credentials.representative,
                granted,
                ", ".join(self.service_route),
            )
            self._schedule_refresh(granted)
            return response

    def is_own(self, contact: NameAddr) -> bool:
        """True if ``contact`` is this eP-CSCF's binding of the block."""
        mine, other = parse_uri(self.contact.strip("<>")), parse_uri(contact.uri)
        return (mine.user, mine.host.lower(), mine.port) == (other.user, other.host.lower(), other.port)

    @clause("TR 23.701 5.2.2.2")
    @clause("RFC 3261 10.2.2")
    async def remove_other_bindings(self, response: Response) -> int:
        """Re-allocation (TR 23.701 5.2.2.2, 5.2.2.5.1): remove the block's bindings that are
        not this eP-CSCF's.

        After a take-over the S-CSCF still holds the failed eP-CSCF's binding (its 200 OK
        lists every binding, RFC 3261 10.3 step 8); terminating requests would be forked
        to it too. "A UA requests the removal of a binding by sending a REGISTER with an
        expires value of 0" (RFC 3261 10.2.2), here for the other eP-CSCF's contacts only,
        after this eP-CSCF's own binding is in place, so the block is never unregistered.

        Returns:
            How many bindings were removed.

        Raises:
            BlockRegistrationError: the S-CSCF refused the removal.
        """
        others = [f"<{c.uri}>" for c in response.contacts if not self.is_own(c)]
        if not others:
            return 0
        async with self._lock:
            request = self._register_request(0, None, others)
            answer = await self.node.request(request, self.target)
            if answer.status == 401 and answer.get("WWW-Authenticate"):
                authorization = self._authorization(answer.get("WWW-Authenticate") or "", request)
                retry = self._register_request(0, authorization, others)
                answer = await self.node.request(retry, self.target)
        if answer.status != 200:
            raise BlockRegistrationError(
                f"block {self.credentials.wimpu}: removing {len(others)} other binding(s) answered "
                f"{answer.status} {answer.reason}"
            )
        log.info("block %s: removed the other binding(s) %s", self.credentials.wimpu, ", ".join(others))
        return len(others)

    def _granted(self, response: Response, wanted: int) -> int:
        for contact in response.contacts:
            if contact.uri in self.contact and contact.param("expires"):
                return int(contact.param("expires") or wanted)
        return wanted

    def _schedule_refresh(self, granted: int) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        loop = asyncio.get_running_loop()
        self._refresh = loop.call_later(max(granted / 2, 1.0), lambda: self.node.spawn(self._refresh_now()))

    async def _refresh_now(self) -> None:
        try:
            await self.register()
        except BlockRegistrationError as exc:
            log.error("block refresh failed: %s", exc)

    async def ensure(self) -> None:
        """Option 2: register the block if it is not registered yet."""
        if not self.registered:
            await self.register()

    def cancel(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
