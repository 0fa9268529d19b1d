"""Attacks on W6, W7 and the lease API (issue 13, item 2): who may call the wIMPU Registrar.

TR 23.701 5.2.2.4 leaves W6/W7 to be standardised; the profile secures them as TS 33.501
13.1/13.4 secures service-based interfaces: mutual TLS with the stack's test PKI, and each
client authorised for its operations (``reference/nodes/wimpu_registrar/access.py``).

Each test is one attack family against a fresh reference stack where alice (block 1, option
A) and bob (block 2, option B) are registered. Every attempt must be refused (403, or the TLS
handshake for a caller without an acceptable certificate); afterwards the registrar holds
exactly what it held, and a legitimate WIC still registers and is reached.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from tally import Family

from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.stack import Stack
from reference.tls import TestPki
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"
BLOCK2 = "sip:wrtc-!.*!@block2.ims.example.net"
EP1 = "sip:ep-cscf1.ims.example.net"
EP2 = "sip:ep-cscf2.ims.example.net"

Attempt = tuple[str, str, str, str, Any, set[int]]
"(label, caller, method, path, JSON body or None, the refusals expected besides the TLS handshake)."


def seg(identity: str) -> str:
    return quote(identity, safe="")


def contact(impu_flow: str, ep_cscf: str, wimpu: str, external: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "wimpu": wimpu,
        "allocated_by": "ep-cscf" if external else "third-party",
        "contact": {"uri": "sip:attacker@198.51.100.7;transport=ws", "flow": impu_flow, "ep_cscf": ep_cscf,
                    "expires": 600},
    }  # fmt: skip
    if external:
        body["external_identity"] = external
    return body


def put(impu: str, cid: str = "attack") -> str:
    return f"/w6/v1/registrations/{seg(impu)}/contacts/{cid}"


FAMILIES: dict[str, list[Attempt]] = {
    "W6 without a client certificate": [
        ("read alice", "none", "GET", f"/w6/v1/registrations/{seg(ALICE)}", None, set()),
        ("W7 alice", "none", "GET", f"/w7/v1/registration-status?identity={seg(ALICE)}", None, set()),
        ("write alice", "none", "PUT", put(ALICE), contact("ep-cscf1.x", EP1, BLOCK1), set()),
        (
            "lease block1",
            "none",
            "PUT",
            f"/w6/v1/blocks/{seg(BLOCK1)}/lease",
            {"holder": EP1, "duration": 9},
            set(),
        ),
        ("openapi", "none", "GET", "/openapi.json", None, set()),
    ],
    "W6 with a certificate of another CA": [
        ("read alice", "foreign", "GET", f"/w6/v1/registrations/{seg(ALICE)}", None, set()),
        ("write alice", "foreign", "PUT", put(ALICE), contact("ep-cscf1.x", EP1, BLOCK1), set()),
        ("delete alice", "foreign", "DELETE", f"/w6/v1/registrations/{seg(ALICE)}", None, set()),
    ],
    "W6 write outside the caller's blocks": [
        (
            "ep-cscf1 writes alice of block2",
            "ep-cscf1",
            "PUT",
            put("sip:wrtc-alice@block2.ims.example.net"),
            contact("ep-cscf1.x", EP1, BLOCK2),
            {403},
        ),
        (
            "ep-cscf1 binds bob to a chosen IMPU",
            "ep-cscf1",
            "PUT",
            put("sip:wrtc-chosen@block1.ims.example.net"),
            contact("ep-cscf1.x", EP1, BLOCK1, BOB),
            {403},
        ),
        (
            "ep-cscf2 binds bob to an IMPU of block1",
            "ep-cscf2",
            "PUT",
            put("sip:wrtc-chosen@block1.ims.example.net"),
            contact("ep-cscf2.x", EP2, BLOCK1, BOB),
            {403},
        ),
        (
            "ep-cscf1 stores an IMPU outside every block",
            "ep-cscf1",
            "PUT",
            put("sip:mallory@evil.example.com"),
            contact("ep-cscf1.x", EP1, BLOCK1),
            {403},
        ),
        (
            "ep-cscf1 files a block1 IMPU under block2",
            "ep-cscf1",
            "PUT",
            put("sip:wrtc-zed@block1.ims.example.net"),
            contact("ep-cscf1.x", EP1, BLOCK2),
            {403},
        ),
        (
            "ep-cscf2 writes in its block as ep-cscf1",
            "ep-cscf2",
            "PUT",
            put("sip:wrtc-zed@block2.ims.example.net"),
            contact("ep-cscf2.x", EP1, BLOCK2, "sip:zed@enterprise.com"),
            {403},
        ),
        (
            "ep-cscf1 reads bob's entry",
            "ep-cscf1",
            "GET",
            f"/w6/v1/registrations?external={seg(BOB)}",
            None,
            {403},
        ),
        (
            "ep-cscf1 reads block2",
            "ep-cscf1",
            "GET",
            f"/w6/v1/blocks/{seg(BLOCK2)}/registrations",
            None,
            {403},
        ),
    ],
    "W7 write by an I-CSCF": [
        ("i-cscf writes alice", "i-cscf", "PUT", put(ALICE), contact("ep-cscf1.x", EP1, BLOCK1), {403}),
        ("i-cscf deletes alice", "i-cscf", "DELETE", f"/w6/v1/registrations/{seg(ALICE)}", None, {403}),
        (
            "i-cscf claims block1",
            "i-cscf",
            "PUT",
            f"/w6/v1/blocks/{seg(BLOCK1)}/lease",
            {"holder": EP1, "duration": 9},
            {403},
        ),
        ("i-cscf reads alice over W6", "i-cscf", "GET", f"/w6/v1/registrations/{seg(ALICE)}", None, {403}),
        (
            "i-cscf PUT on W7",
            "i-cscf",
            "PUT",
            f"/w7/v1/registration-status?identity={seg(ALICE)}",
            {},
            {403, 405},
        ),
    ],
    "lease of another eP-CSCF's block": [
        (
            "ep-cscf1 claims block2",
            "ep-cscf1",
            "PUT",
            f"/w6/v1/blocks/{seg(BLOCK2)}/lease",
            {"holder": EP1, "duration": 9},
            {403},
        ),
        (
            "ep-cscf1 claims block1 as ep-cscf2",
            "ep-cscf1",
            "PUT",
            f"/w6/v1/blocks/{seg(BLOCK1)}/lease",
            {"holder": EP2, "duration": 9},
            {403},
        ),
        (
            "ep-cscf1 releases block2",
            "ep-cscf1",
            "DELETE",
            f"/w6/v1/blocks/{seg(BLOCK2)}/lease?holder={seg(EP2)}",
            None,
            {403},
        ),
        (
            "wwsf claims block1",
            "wwsf",
            "PUT",
            f"/w6/v1/blocks/{seg(BLOCK1)}/lease",
            {"holder": EP1, "duration": 9},
            {403},
        ),
        (
            "observer claims block1",
            "observer",
            "PUT",
            f"/w6/v1/blocks/{seg(BLOCK1)}/lease",
            {"holder": EP1, "duration": 9},
            {403},
        ),
    ],
    "unauthenticated DELETE of alice's entry": [
        ("no certificate, entry", "none", "DELETE", f"/w6/v1/registrations/{seg(ALICE)}", None, set()),
        (
            "no certificate, contact",
            "none",
            "DELETE",
            f"/w6/v1/registrations/{seg(ALICE)}/contacts/x",
            None,
            set(),
        ),
        ("observer", "observer", "DELETE", f"/w6/v1/registrations/{seg(ALICE)}", None, {403}),
        ("wwsf", "wwsf", "DELETE", f"/w6/v1/registrations/{seg(ALICE)}", None, {403}),
        ("ep-cscf2", "ep-cscf2", "DELETE", f"/w6/v1/registrations/{seg(ALICE)}", None, {403}),
    ],
    "PUT of a contact naming another flow": [
        ("no certificate", "none", "PUT", put(ALICE), contact("ep-cscf2.1", EP1, BLOCK1), set()),
        ("observer", "observer", "PUT", put(ALICE), contact("ep-cscf2.1", EP1, BLOCK1), {403}),
        (
            "ep-cscf2 moves alice to its flow",
            "ep-cscf2",
            "PUT",
            put(ALICE),
            contact("ep-cscf2.1", EP2, BLOCK1),
            {403},
        ),
        (
            "ep-cscf1 names ep-cscf2's flow",
            "ep-cscf1",
            "PUT",
            put(ALICE),
            contact("ep-cscf2.1", EP2, BLOCK1),
            {403},
        ),
    ],
}



async def registered(stack: Stack, user: str, name: str) -> Wic:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, user, f"{user}-password", ctx)
    wic = Wic(name, ssl_context=ctx)
    wic.answer_mode = "answer"
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    response = await wic.register(login.identity, token=login.token)
    assert response.status == 200, response.start_line()
    return wic


async def holdings(stack: Stack) -> dict[str, Any]:
    """What the registrar holds (W6 read by the observer), without the times that run."""
    async with stack.observer() as w6:
        found: dict[str, Any] = {"leases": await w6.leases()}
        for wimpu in (BLOCK1, BLOCK2):
            # The entries as stored (their contacts' absolute expiry does not run).
            found[wimpu] = await w6.block_registrations(wimpu)
        found["mallory W7"] = (await w6.status("sip:mallory@evil.example.com")).registered
        return found


def context(stack: Stack, caller: str, tmp: Path) -> ssl.SSLContext:
    if caller == "none":
        return stack.pki.client_context()
    if caller == "foreign":  # a certificate naming ep-cscf1, from a CA the registrar does not trust
        other = TestPki(tmp / "foreign-pki")
        ctx = stack.pki.client_context()
        ctx.load_cert_chain(other.ensure_client("ep-cscf1"), other.client_key_path("ep-cscf1"))
        return ctx
    return stack.pki.client_context(node=caller)


async def attack(stack: Stack, ctx: ssl.SSLContext, method: str, path: str, body: Any) -> int | str | None:
    """The HTTP status, ``"tls"`` for a refused handshake, None for no answer."""
    timeout = aiohttp.ClientTimeout(total=3)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.request(method, stack.registrar_url + path, json=body, ssl=ctx) as r,
        ):
            await r.read()
            return r.status
    except TimeoutError:
        return None
    except (aiohttp.ClientConnectionError, ssl.SSLError):  # alert, reset or close during the handshake
        return "tls"


async def still_served(stack: Stack, remote: RemoteParty) -> None:
    """A legitimate WIC still registers and is reached (terminating call through the I-CSCF)."""
    wic = await registered(stack, "alice", "alice-after")
    try:
        response = await remote.call(ALICE, Target("TCP", stack.config.host, stack.icscf.node.port))
        assert response.status == 200, response.start_line()
    finally:
        await wic.close()


@pytest.mark.parametrize("name", list(FAMILIES))
async def test_registrar_refuses_every_caller_outside_its_authority(
    stack: Stack, tmp_path: Path, name: str
) -> None:
    family = Family(name)
    remote = RemoteParty("remote.example.org")
    await remote.start()
    stack.resolver.add("remote.example.org", remote.target)
    wics = [await registered(stack, "alice", "alice"), await registered(stack, "bob", "bob")]
    try:
        before = await holdings(stack)
        assert before[BLOCK1] and before[BLOCK2], before
        for label, caller, method, path, body, refusals in FAMILIES[name]:
            outcome = await attack(stack, context(stack, caller, tmp_path), method, path, body)
            refused = None if outcome is None else (outcome == "tls" if not refusals else outcome in refusals)
            family.judge(f"{label} ({caller}): {outcome}", refused=refused)
        assert await holdings(stack) == before, "the registrar's contents changed"
        for wic in wics:
            await wic.close()
        wics = []
        await still_served(stack, remote)
    finally:
        for wic in wics:
            await wic.close()
        await remote.stop()
    family.assert_clean()
