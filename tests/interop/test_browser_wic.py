"""Interop: the WIC page the WWSF serves, in a real browser (Debian's Chromium, headless).

TR 23.701 5.2.2.5.2 step 1, "the browser downloads and initializes the WIC": Chromium loads
the page from the WWSF (``reference/nodes/wwsf/static/wic.html`` with JsSIP bundled from
``reference/nodes/wwsf/web``), logs in, opens WSS to the eP-CSCF the WWSF named, with the
page's real Origin, and registers with the token. Then, with an emulated WIC of alice
registered too, the remote party calls alice through the I-CSCF (5.2.2.5.4): both ring, the
browser answers, the emulated WIC gets CANCEL with ``Reason: SIP;cause=200``; the browser
hangs up (BYE); then the browser calls the remote party (5.2.2.5.3), whose INVITE carries
alice's P-Asserted-Identity and no token; last the browser de-registers.

Chromium trusts the stack's test CA through its profile: an NSS database in
``$HOME/.pki/nssdb`` of a temporary HOME (``certutil``, Debian ``libnss3-tools``), not a
flag that ignores certificate errors. Playwright for Python drives it
(``executable_path=/usr/bin/chromium``; Playwright's own browser download is never used).
Media comes from Chromium's fake devices; the remote party's SDP is a fixed WebRTC-shaped
one with no candidates, so no RTP flows: the signalling is what is tested.

A screenshot of each stage goes under the captures directory (``reports/screens.py``): the
conformance report shows them (section 10) and the test's Allure result carries them.

``scripts/install.sh`` installs Chromium, certutil, Playwright and the bundle; CI runs it.
Only a machine without Chromium skips this test.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from conformance.harness.expect import EVENT_WAIT
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.sip.message import Request, Response
from reference.stack import Stack
from reference.transport.endpoint import Target
from reference.transport.resolver import Resolver, next_hop_uri
from reports.evidence import captures_dir
from reports.screens import Screen, ScreenSet, screens_folder, write_allure_result, write_screens

CHROMIUM = "/usr/bin/chromium"
BUNDLE = Path(__file__).resolve().parents[2] / "reference" / "nodes" / "wwsf" / "web" / "dist" / "wic.js"
ALICE = "sip:wrtc-alice@block1.ims.example.net"
DAVE = "sip:dave@remote.example.org"
STEP_TIMEOUT = EVENT_WAIT
TITLE = "The browser WIC: log in, register, answer a forked call, call out, de-register"
"Longest wait for one step: the suite's one bound on waiting for an event (conformance/harness/expect.py)."
TEST_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is not installed (Debian package chromium; `bash scripts/install.sh` installs it)",
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

_FINGERPRINT = ":".join(f"{b:02X}" for b in bytes(range(32)))
"A well-formed DTLS fingerprint: no DTLS handshake happens (no candidates), only its syntax is read."


def webrtc_offer() -> bytes:
    """The remote party's offer, shaped as Chromium accepts one (ICE, DTLS-SRTP, rtcp-mux)."""
    return _sdp(
        "a=group:BUNDLE 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        *_transport("actpass"),
        "a=mid:0",
        "a=sendrecv",
        "a=rtpmap:111 opus/48000/2",
    )


def webrtc_answer(offer: bytes) -> bytes:
    """The remote party's answer to the browser's offer (RFC 3264 6): each m-line with its
    first payload type, the offer's mids, DTLS role active."""
    lines = offer.decode().split("\r\n")
    body = [line for line in lines if line.startswith("a=group:BUNDLE")]
    section: list[str] = []
    sections = [section]
    for line in lines:
        if line.startswith("m="):
            section = [line]
            sections.append(section)
        else:
            section.append(line)
    for media in sections[1:]:
        kind, _port, proto, pt, *_ = media[0][2:].split()
        rtpmap = [line for line in media if line.startswith(f"a=rtpmap:{pt} ")]
        mid = [line for line in media if line.startswith("a=mid:")]
        body += [f"m={kind} 9 {proto} {pt}", *_transport("active"), *mid, "a=sendrecv", *rtpmap]
    return _sdp(*body)


def _transport(setup: str) -> list[str]:
    return [
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:wimpu",
        "a=ice-pwd:wimpuwimpuwimpuwimpu00",
        f"a=fingerprint:sha-256 {_FINGERPRINT}",
        f"a=setup:{setup}",
        "a=rtcp-mux",
    ]


def _sdp(*lines: str) -> bytes:
    head = ["v=0", "o=dave 2890844526 2890844526 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    return ("\r\n".join([*head, *lines]) + "\r\n").encode()


@pytest.fixture
async def webrtc_remote(stack: Stack) -> AsyncIterator[RemoteParty]:
    """The remote party, answering an INVITE 200 with a WebRTC answer to its offer."""
    party = RemoteParty("remote.example.org")
    party.answer_sdp = webrtc_answer
    await party.start()
    stack.resolver.add("remote.example.org", party.target)
    yield party
    await party.stop()


def _nss_home(home: Path, ca_pem: Path) -> Path:
    """A HOME whose NSS database (Chromium's trust store on Linux) holds the test CA."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail("certutil is not installed: run `bash scripts/install.sh` (Debian libnss3-tools)")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{nssdb}", "-n", "wimpu test CA", "-t", "C,,", "-i", str(ca_pem)],
        check=True,
    )
    return home


def _redacted(data: str | bytes) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return re.sub(r"(Bearer\s+)[^\s,]+", r"\1<token>", text, flags=re.IGNORECASE)


def _evidence(request: pytest.FixtureRequest) -> Path:
    """The folder of this test's screenshots under the captures directory, emptied."""
    folder = screens_folder(captures_dir(request.config.rootpath), request.node.name)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


def _report(
    request: pytest.FixtureRequest, folder: Path, shots: list[Screen], status: str, start: float
) -> None:
    """Leave the screenshots where the conformance report (section 10) and Allure find them."""
    index = write_screens(folder, request.node.name, TITLE, status, shots)
    alluredir = getattr(request.config.option, "allure_report_dir", None)
    if alluredir:
        write_allure_result(
            request.config.invocation_params.dir / str(alluredir),
            ScreenSet(request.node.name, TITLE, status, time.time(), tuple(shots)),
            full_name=request.node.nodeid, start=start, stop=time.time(),
        )  # fmt: skip
    print(f"screenshots: {index}")


async def _wait_for(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"expected {what} within {STEP_TIMEOUT}s")
        await asyncio.sleep(0.05)


async def test_browser_wic_registers_answers_calls_and_deregisters(
    stack: Stack,
    webrtc_remote: RemoteParty,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    if not BUNDLE.is_file():
        pytest.fail(f"{BUNDLE} is missing: run `bash scripts/install.sh` (npm ci and npm run build)")
    caplog.set_level(logging.INFO, logger="wimpu.transport.ws")
    expect.set_options(timeout=STEP_TIMEOUT * 1000)
    home = _nss_home(tmp_path / "home", stack.pki.ca_path)
    screens = _evidence(request)
    shots: list[Screen] = []
    start, status = time.time(), "broken"
    console: list[str] = []
    frames: list[str] = []
    "The SIP messages the page sent over its WebSocket (token redacted)."
    remote = webrtc_remote

    async def screenshot(stage: str) -> None:
        path = screens / f"{len(shots) + 1:02d}-{stage}.png"
        await page.screenshot(path=str(path), full_page=True)
        shots.append(Screen(stage, path))

    wic = Wic("alice-emulated", ssl_context=stack.pki.client_context())
    async with stack.observer() as w6, async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            env={**os.environ, "HOME": str(home)},
            timeout=STEP_TIMEOUT * 1000,
        )
        try:
            async with asyncio.timeout(TEST_TIMEOUT):
                page = await browser.new_page()
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                page.on(
                    "websocket", lambda ws: ws.on("framesent", lambda data: frames.append(_redacted(data)))
                )
                await _scenario(stack, remote, wic, w6, page, screenshot, caplog)
                [register, *_] = [f for f in frames if f.startswith("REGISTER ")]
                assert "\r\nAuthorization: Bearer <token>\r\n" in register, register
            status = "passed"
        except AssertionError:
            status = "failed"
            print("\n".join(["===== browser console =====", *console]))
            raise
        except BaseException:
            print("\n".join(["===== browser console =====", *console]))
            raise
        finally:
            await browser.close()
            await wic.close()
            _report(request, screens, shots, status, start)


async def _scenario(
    stack: Stack,
    remote: RemoteParty,
    wic: Wic,
    w6: RegistrarClient,
    page: Page,
    shot: Callable[[str], Awaitable[None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # ----- step 1: the page from the WWSF; web login ---------------------------------------
    await page.goto(f"{stack.wwsf.origin}/")
    await expect(page.locator("#state")).to_have_text("not-logged-in")
    await shot("login-page")
    await page.fill("#login input[name=username]", "alice")
    await page.fill("#login input[name=password]", "alice-password")
    await page.click("#login button[type=submit]")

    # ----- steps 2-7: WSS to the eP-CSCF, REGISTER with the token ---------------------------
    await expect(page.locator("#state")).to_have_text("registered")
    await expect(page.locator("#identity")).to_have_text(ALICE)
    ep_url = stack.ep_cscfs["ep-cscf1"].wss_url
    assert await page.locator("#identity").get_attribute("data-ep-cscf") == ep_url
    contact = await page.locator("#identity").get_attribute("data-contact")
    assert contact, "the page shows no Contact after registering"
    await shot("registered")
    entry = await w6.read(ALICE)
    assert entry is not None, "the browser shows registered but the registrar holds no entry for alice"
    assert [c.uri for c in entry.contacts] == [contact], (
        f"expected the browser's contact {contact} at the registrar, got {entry.contacts}"
    )
    assert entry.contacts[0].flow.startswith("ep-cscf1.")
    opened = [r.getMessage() for r in caplog.records if "flow" in r.getMessage() and "open" in r.getMessage()]
    assert any(f"(Origin {stack.wwsf.origin})" in line for line in opened), (
        f"expected the eP-CSCF to log the browser's flow with Origin {stack.wwsf.origin}, got {opened}"
    )

    # ----- an emulated WIC of alice as well (rings, never answers) --------------------------
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", stack.pki.client_context())
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await wic.register(ALICE, token=login.token)).status == 200
    entry = await w6.read(ALICE)
    assert entry is not None and len(entry.contacts) == 2, f"expected 2 contacts for alice, got {entry}"

    # ----- 5.2.2.5.4: the remote party calls alice; both ring; the browser answers ----------
    icscf = Target("TCP", stack.config.host, stack.icscf.node.port)
    invite = remote.invite_request(ALICE).with_body(webrtc_offer(), "application/sdp")
    responses: list[Response] = []
    handle = remote.node.send_request(invite, icscf, on_response=responses.append)
    await expect(page.locator("#call-state")).to_have_text("incoming")
    await _wait_for(
        lambda: any(r.method == "INVITE" for r in wic.incoming), "the forked INVITE at the emulated WIC"
    )
    await expect(page.locator("#answer")).to_be_visible()
    await expect(page.locator("#call-info")).to_have_text(DAVE)
    await shot("incoming-call")
    await page.click("#answer")
    final = await asyncio.wait_for(asyncio.shield(handle.final), STEP_TIMEOUT)
    assert final.status == 200, f"expected 200 at the remote party, got {final.status} {final.reason}"
    assert b"a=fingerprint" in final.body, f"expected the browser's SDP answer, got {final.body!r}"
    ack = remote.ack_for(handle.request, final)
    ack = ack.with_header("Via", f"{remote.node.via()};branch=z9hG4bK{secrets.token_hex(8)}", first=True)
    await _send_ack(remote, ack)
    await _wait_for(lambda: bool(wic.cancels()), "the CANCEL at the emulated WIC")
    [cancel] = wic.cancels()
    reason = cancel.get("Reason") or ""
    assert "cause=200" in reason, f"expected Reason: SIP;cause=200 on the CANCEL, got {reason!r}"
    await expect(page.locator("#call-state")).to_have_text("in-call")
    await shot("in-call")
    # the page logs each change of the call's state once (JsSIP's "progress" of an incoming call,
    # its own 180, is not a second "incoming")
    logged = await page.locator("#log li").all_inner_texts()
    incoming = [line for line in logged if " call incoming" in line]
    assert len(incoming) == 1, f"expected the page to log the incoming call once, got {incoming}"
    await asyncio.sleep(0.3)  # a straggling final response (the emulated WIC's 487) would show here
    finals = [r.status for r in responses if r.is_final]
    assert finals == [200], f"expected exactly one final response, 200, at the remote party; got {finals}"

    # ----- the browser hangs up: BYE through the eP-CSCF and the S-CSCF ----------------------
    await page.click("#hangup")
    await _wait_for(
        lambda: any(r.method == "BYE" for r in remote.received), "the browser's BYE at the remote party"
    )
    await expect(page.locator("#call-state")).to_have_text("ended")
    await shot("hung-up")

    # ----- 5.2.2.5.3: the browser calls the remote party -------------------------------------
    await page.fill("#target", DAVE)
    await page.click("#dial button[type=submit]")
    await _wait_for(lambda: len(remote.invites()) == 1, "the browser's INVITE at the remote party")
    await expect(page.locator("#call-state")).to_have_text("in-call")
    [outgoing] = remote.invites()
    assert outgoing.get_all("P-Asserted-Identity") == [f"<{ALICE}>"], outgoing.get_all("P-Asserted-Identity")
    assert not any("bearer" in v.lower() for v in outgoing.get_all("Authorization")), (
        "the browser's token left the eP-CSCF"
    )
    assert b"Bearer" not in outgoing.to_bytes(), "the token left the eP-CSCF"
    await shot("outgoing-call")
    await _wait_for(lambda: any(r.method == "ACK" for r in remote.received), "the browser's ACK")
    await page.click("#hangup")
    await _wait_for(lambda: sum(r.method == "BYE" for r in remote.received) == 2, "the browser's second BYE")
    await expect(page.locator("#call-state")).to_have_text("ended")

    # ----- de-registration (5.2.2.3.2) ------------------------------------------------------
    await page.click("#unregister")
    await expect(page.locator("#state")).to_have_text("unregistered")
    await shot("unregistered")
    entry = await w6.read(ALICE)
    assert entry is not None and [c.uri for c in entry.contacts] != [contact], entry
    assert contact not in [c.uri for c in entry.contacts], (
        f"the browser's contact is still registered: {entry}"
    )


async def _send_ack(remote: RemoteParty, ack: Request) -> None:
    await remote.node.send_ack(ack, Resolver().resolve(next_hop_uri(ack.uri, ack.get_all("Route"))))
