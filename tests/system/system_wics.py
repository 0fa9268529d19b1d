"""Emulated WICs for the system tests: log in, connect, register, and come back after a loss.

A WIC whose eP-CSCF fails does what a browser page would: it sees its WebSocket close,
asks the WWSF's ``/directory`` which eP-CSCF serves its block now (cheap, no password
hashing), logs in again once it has a new answer (a token for that eP-CSCF, TR 23.701
5.2.2.5.2 step 1) and registers again (steps 2-7), keeping its ``+sip.instance`` so the
registrar sees the same contact (5.2.2.5.2 step 6).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from typing import Any

import aiohttp

from conformance.harness.wic import Wic, web_login


@dataclasses.dataclass
class Attached:
    """A WIC with its identity and the eP-CSCF it is registered through."""

    user: str
    identity: str
    wic: Wic
    ep_cscf_url: str
    registered_at: float
    "Wall-clock time of the 200 OK to its last REGISTER."
    token: str = dataclasses.field(default="", repr=False)
    "The WWSF's token (for re-REGISTERs)."
    attempts: int = 1
    "REGISTERs sent to get there."


async def directory(wwsf: str, ctx: ssl.SSLContext) -> dict[str, str]:
    """The WWSF directory: wildcarded IMPU -> WSS URL of the eP-CSCF serving it."""
    async with aiohttp.ClientSession() as http, http.get(f"{wwsf}/directory", ssl=ctx) as r:
        body: list[dict[str, Any]] = await r.json()
    return {b["wimpu"]: b["ep_cscf"]["uri"] for b in body}


async def attach(
    wwsf: str, user: str, password: str, ctx: ssl.SSLContext, *, instance: str | None = None, name: str = ""
) -> Attached:
    """Log in, connect and register once; raises on any failure."""
    login = await web_login(wwsf, user, password, ctx)
    wic = Wic(name or user, ssl_context=ctx)
    wic.answer_mode = "answer"
    if instance is not None:
        wic.instance = instance
    await wic.connect(login.ep_cscf_url, origin=wwsf)
    response = await wic.register(login.identity, token=login.token)
    if response.status != 200:
        await wic.close()
        raise ConnectionError(f"{user}: REGISTER answered {response.status} {response.reason}")
    return Attached(user, login.identity, wic, login.ep_cscf_url, time.time(), login.token)


async def closed(wic: Wic) -> None:
    """Wait until the WIC's WebSocket is closed (by the eP-CSCF, or by its death)."""
    assert wic.connection is not None
    await wic.connection.wait_closed()


async def reattach(
    wwsf: str, old: Attached, password: str, ctx: ssl.SSLContext, wimpu: str, *, deadline: float
) -> Attached:
    """Come back after a loss: wait for the directory to name another eP-CSCF, then attach.

    Raises:
        TimeoutError: not registered again before ``deadline`` (``time.monotonic()``).
    """
    attempts = 0
    while time.monotonic() < deadline:
        try:
            current = (await directory(wwsf, ctx)).get(wimpu)
        except aiohttp.ClientError:
            current = None
        if current is not None and current != old.ep_cscf_url:
            attempts += 1
            try:
                again = await attach(
                    wwsf, old.user, password, ctx, instance=old.wic.instance, name=old.wic.name
                )
                again.attempts = attempts
                return again
            except (OSError, ConnectionError, TimeoutError):
                pass
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{old.user} not registered again in time")
