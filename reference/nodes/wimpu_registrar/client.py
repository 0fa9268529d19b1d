"""HTTP client of the W6 (eP-CSCF) and W7 (I-CSCF) reference points.

Used by the reference eP-CSCF and I-CSCF, and by the suite to observe the registrar's
state. Errors carry the registrar's RFC 9457 problem detail so a log line (and a
verdict) says what the registrar objected to.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

__all__ = ["RegistrarClient", "RegistrarUnavailable", "RegistrarRejected"]


class RegistrarUnavailable(Exception):
    """The registrar could not be reached or answered 5xx (a temporary fault: 503)."""


class RegistrarRejected(Exception):
    """The registrar answered 4xx to a request (a fault in what was asked)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"registrar answered {status}: {detail}")
        self.status = status
        self.detail = detail


def _segment(identity: str) -> str:
    return quote(identity, safe="")


class RegistrarClient:
    """W6 and W7 over HTTP/JSON (``reference/nodes/wimpu_registrar/openapi.json``)."""

    def __init__(self, base_url: str, *, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

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
            self._session = aiohttp.ClientSession(timeout=self._timeout)
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
                    raise RegistrarRejected(r.status, detail)
                return body
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RegistrarUnavailable(f"registrar at {self.base_url} unreachable: {exc}") from None

    # ----- W6 ------------------------------------------------------------------------

    async def read(self, impu: str) -> dict[str, Any] | None:
        """W6: the entry of an individual IMPU (live contacts only), or None."""
        result: dict[str, Any] | None = await self._call(
            "GET", f"/w6/v1/registrations/{_segment(impu)}", missing_ok=True
        )
        return result

    async def read_by_external(self, external: str) -> dict[str, Any] | None:
        """W6 (option B): the entry bound to an external identity, or None."""
        result: dict[str, Any] | None = await self._call(
            "GET", "/w6/v1/registrations", params={"external": external}, missing_ok=True
        )
        return result

    async def write(self, impu: str, contact_id: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """W6: create or refresh one contact. Returns (outcome, entry)."""
        result = await self._call(
            "PUT", f"/w6/v1/registrations/{_segment(impu)}/contacts/{_segment(contact_id)}", json=body
        )
        return str(result["outcome"]), dict(result["entry"])

    async def remove(self, impu: str, contact_id: str | None) -> None:
        """W6: remove one contact, or the whole entry when ``contact_id`` is None."""
        path = f"/w6/v1/registrations/{_segment(impu)}"
        if contact_id is not None:
            path += f"/contacts/{_segment(contact_id)}"
        await self._call("DELETE", path, missing_ok=True)

    # ----- W7 ------------------------------------------------------------------------

    async def status(self, identity: str) -> dict[str, Any]:
        """W7: registration status of a called identity (IMPU or external identity)."""
        result: dict[str, Any] = await self._call(
            "GET", "/w7/v1/registration-status", params={"identity": identity}
        )
        return result
