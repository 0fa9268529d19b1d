"""HTTP client of the W6 (eP-CSCF) and W7 (I-CSCF) reference points.

Used by the reference eP-CSCF and I-CSCF, and by the suite to observe the registrar's
state. Errors carry the registrar's RFC 9457 problem detail so a log line (and a
verdict) says what the registrar objected to.

The registrar requires mutual TLS (TS 33.501 13.1): give ``ssl``, a client context that
trusts the stack's CA and presents the node's client certificate
(:meth:`reference.tls.TestPki.client_context` with ``node=``). A refused certificate is
a failed handshake, reported as :class:`RegistrarUnavailable` with the TLS reason.

Registration entries and statuses come back as the registrar's own records
(:class:`~.model.Entry`, :class:`~.model.RegistrationStatus`), validated by their
``from_json``; an answer that does not validate is a fault of the registrar, reported
as :class:`RegistrarUnavailable`.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from .model import (
    Entry,
    LeaseGrant,
    LeaseState,
    Outcome,
    RegistrationStatus,
    RegistrationWrite,
    ValidationError,
)

T = TypeVar("T")

__all__ = ["LeaseHeld", "RegistrarClient", "RegistrarUnavailable", "RegistrarRejected"]


class RegistrarUnavailable(Exception):
    """The registrar could not be reached or answered 5xx (a temporary fault: 503)."""


class RegistrarRejected(Exception):
    """The registrar answered 4xx to a request (a fault in what was asked)."""

    def __init__(self, status: int, detail: str, body: Any = None) -> None:
        super().__init__(f"registrar answered {status}: {detail}")
        self.status = status
        self.detail = detail
        self.body = body
        "The problem document, with its extension members."


class LeaseHeld(RegistrarRejected):
    """Another eP-CSCF holds a live lease on the block (409)."""

    def __init__(self, status: int, detail: str, body: Any = None) -> None:
        super().__init__(status, detail, body)
        members = body if isinstance(body, dict) else {}
        self.holder: str = str(members.get("holder", ""))
        self.remaining: float = float(members.get("expires", 0.0))
        "Seconds the holder's lease still runs."


def _segment(identity: str) -> str:
    return quote(identity, safe="")


class RegistrarClient:
    """W6 and W7 over HTTP/JSON (``reference/nodes/wimpu_registrar/openapi.json``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 2.0,
        ssl: _ssl.SSLContext | Callable[[], _ssl.SSLContext | None] | None = None,
    ) -> None:
        """``ssl``: the client context of mutual TLS, or a function making it when first
        needed (its certificate may not exist yet when the client is made)."""
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ssl = ssl

    async def __aenter__(self) -> RegistrarClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            context = self._ssl() if callable(self._ssl) else self._ssl
            connector = aiohttp.TCPConnector(ssl=context) if context is not None else None
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        try:
            async with self._http().request(method, self.base_url + path, json=json, params=params) as r:
                if r.status == 404 and missing_ok:
                    return None
                if r.status == 204:
                    return None
                body = await r.json(content_type=None) if r.content_length != 0 else None
                if r.status >= 500:
                    raise RegistrarUnavailable(f"registrar answered {r.status}: {body}")
                if r.status >= 400:
                    detail = body.get("detail", "") if isinstance(body, dict) else str(body)
                    if r.status == 409 and isinstance(body, dict) and "holder" in body:
                        raise LeaseHeld(r.status, detail, body)
                    raise RegistrarRejected(r.status, detail, body)
                return body
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RegistrarUnavailable(f"registrar at {self.base_url} unreachable: {exc}") from None

    def _entry(self, doc: Any, field: str = "entry") -> Entry:
        return self._parsed(Entry.from_json, doc, field)

    def _parsed(self, parse: Callable[[Any, str], T], doc: Any, field: str) -> T:
        """``parse(doc, field)``; an answer that does not validate is the registrar's fault."""
        try:
            return parse(doc, field)
        except ValidationError as exc:
            raise RegistrarUnavailable(f"registrar at {self.base_url} answered a malformed {exc}") from None

    # ----- W6 ------------------------------------------------------------------------

    async def read(self, impu: str) -> Entry | None:
        """W6: the entry of an individual IMPU (live contacts only), or None."""
        doc = await self._call("GET", f"/w6/v1/registrations/{_segment(impu)}", missing_ok=True)
        return None if doc is None else self._entry(doc)

    async def read_by_external(self, external: str) -> Entry | None:
        """W6 (option B): the entry bound to an external identity, or None."""
        doc = await self._call("GET", "/w6/v1/registrations", params={"external": external}, missing_ok=True)
        return None if doc is None else self._entry(doc)

    async def write(self, impu: str, write: RegistrationWrite) -> tuple[Outcome, Entry]:
        """W6: create or refresh the contact ``write.contact`` of ``impu``. Returns
        (outcome of TR 23.701 5.2.2.5.2 step 6, the entry as stored)."""
        path = f"/w6/v1/registrations/{_segment(impu)}/contacts/{_segment(write.contact.contact_id)}"
        result = await self._call("PUT", path, json=write.to_json())
        try:
            outcome = Outcome(result["outcome"]) if isinstance(result, dict) else None
        except ValueError:
            outcome = None
        if outcome is None:
            raise RegistrarUnavailable(f"registrar at {self.base_url} answered a write without an outcome")
        return outcome, self._entry(result.get("entry"))

    async def remove(self, impu: str, contact_id: str | None, *, flow: str | None = None) -> bool:
        """W6: remove one contact, or the whole entry when ``contact_id`` is None; with
        ``flow``, the contact only if it is still on that flow (RFC 5626 6).

        Returns:
            False when ``flow`` was given and the contact is on another flow now (412).
        """
        path = f"/w6/v1/registrations/{_segment(impu)}"
        if contact_id is not None:
            path += f"/contacts/{_segment(contact_id)}"
        try:
            await self._call("DELETE", path, params={"flow": flow} if flow else None, missing_ok=True)
        except RegistrarRejected as exc:
            if exc.status == 412 and flow is not None:
                return False
            raise
        return True

    # ----- block leases (failover, TR 23.701 5.2.2.2) ------------------------------

    async def claim_lease(
        self, wimpu: str, holder: str, duration: float, access: dict[str, str] | None = None
    ) -> LeaseGrant:
        """Claim or renew a block's lease.

        Raises:
            LeaseHeld: another eP-CSCF holds a live lease (its identity and time left).
        """
        body: dict[str, Any] = {"holder": holder, "duration": duration}
        if access is not None:
            body["access"] = access
        result = await self._call("PUT", f"/w6/v1/blocks/{_segment(wimpu)}/lease", json=body)
        return self._parsed(LeaseGrant.from_json, result, "lease claim")

    async def release_lease(self, wimpu: str, holder: str) -> None:
        """Give a block's lease up (a standby may take it at once)."""
        await self._call(
            "DELETE", f"/w6/v1/blocks/{_segment(wimpu)}/lease", params={"holder": holder}, missing_ok=True
        )

    async def lease(self, wimpu: str) -> LeaseState | None:
        """A block's lease, live or lapsed, or None."""
        result = await self._call("GET", f"/w6/v1/blocks/{_segment(wimpu)}/lease", missing_ok=True)
        return None if result is None else self._parsed(LeaseState.from_json, result, "lease")

    async def leases(self) -> list[LeaseState]:
        """Every block's lease (the WWSF's view of who serves each block)."""
        result = await self._call("GET", "/w6/v1/blocks")
        leases = result.get("leases") if isinstance(result, dict) else None
        if not isinstance(leases, list):
            raise RegistrarRejected(200, "the answer to GET /w6/v1/blocks has no leases list", result)
        return [self._parsed(LeaseState.from_json, lease, "lease") for lease in leases]

    async def block_registrations(self, wimpu: str) -> list[Entry]:
        """The live entries of a block."""
        result = await self._call("GET", f"/w6/v1/blocks/{_segment(wimpu)}/registrations")
        entries = result.get("entries") if isinstance(result, dict) else None
        if not isinstance(entries, list):
            raise RegistrarUnavailable(f"registrar at {self.base_url} answered a block without entries")
        return [self._entry(doc, f"entries[{i}]") for i, doc in enumerate(entries)]

    # ----- W7 ------------------------------------------------------------------------

    async def status(self, identity: str) -> RegistrationStatus:
        """W7: registration status of a called identity (IMPU or external identity)."""
        doc = await self._call("GET", "/w7/v1/registration-status", params={"identity": identity})
        try:
            return RegistrationStatus.from_json(doc)
        except ValidationError as exc:
            raise RegistrarUnavailable(f"registrar at {self.base_url} answered a malformed {exc}") from None
