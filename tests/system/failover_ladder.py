"""Draw the ladder diagram of an eP-CSCF failover from a real, captured run (docs/failover.md).

    python3 tests/system/failover_ladder.py docs/images/failover.svg [--pcap run.pcapng]

Runs the multi-process stack of ``test_failover.py`` with one WIC, captures loopback with
dumpcap (``captures.LiveCapture``, the WIC's TLS secrets in the file), kills eP-CSCF 1
with SIGKILL, lets the WIC come back through eP-CSCF 2 and a remote party call it, then
decodes the capture (``captures.decode_file``), names each end after its node and draws
the messages of the failover with ``reports.ladder.render_svg``. Lease renewals of the
other block and the WIC's repeated directory polls are left out (counted in the title);
everything else between the kill and the answered call is drawn as captured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from system_nodes import BLOCK1, cluster, write_config  # noqa: E402
from system_wics import attach, closed, directory  # noqa: E402

from captures import Legs, LiveCapture, decode_file  # noqa: E402
from captures.model import WireMessage  # noqa: E402
from conformance.harness.remote import RemoteParty  # noqa: E402
from reference.config import load_config  # noqa: E402
from reference.tls import TestPki  # noqa: E402
from reference.transport.endpoint import Target  # noqa: E402
from reports.ladder import LadderEvent, render_svg  # noqa: E402

LEASE = {"lease_duration": 1.5, "renew_interval": 0.5, "standby_delay": 1.5, "retry_interval": 0.25}
LANES = ["WIC", "wwsf", "ep-cscf1", "ep-cscf2", "registrar", "s-cscf", "i-cscf", "remote"]


async def run(work: Path, pcap: Path) -> tuple[list[WireMessage], dict[str, float], dict[int, str]]:
    config_path = write_config(work, failover=LEASE, standby={"block1": ["ep-cscf2"]}, block1_users=1)
    config = load_config(config_path)
    names = {"registrar": "registrar", "wwsf": "wwsf", "i_cscf": "i-cscf", "s_cscf": "s-cscf"}
    ports = {config.ports[key]: name for key, name in names.items()}
    for name, (wss, sip) in config.ep_ports.items():
        ports[wss] = ports[sip] = name
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    icscf = Target("TCP", "127.0.0.1", config.ports["i_cscf"])
    marks: dict[str, float] = {}
    with cluster(config_path, work / "state") as nodes:
        remote = RemoteParty("remote.example.org")
        await remote.start()
        ports[remote.node.port] = "remote"
        with LiveCapture(pcap, ports) as capture:
            ctx = TestPki(work / "state" / "pki").client_context(keylog_file=str(capture.keylog_path))
            wic = await attach(wwsf, "user0", "pw", ctx)
            assert (await remote.call(wic.identity, icscf)).status == 200
            await asyncio.sleep(0.3)
            marks["kill"] = nodes.nodes["ep-cscf1"].kill()
            await closed(wic.wic)
            marks["gap call"] = time.time()
            marks["gap call status"] = (await remote.call(wic.identity, icscf)).status
            polls = 0
            while (await directory(wwsf, ctx)).get(BLOCK1) == wic.ep_cscf_url:
                polls += 1
                await asyncio.sleep(0.25)
            marks["polls"] = polls
            back = await attach(wwsf, "user0", "pw", ctx, instance=wic.wic.instance)
            marks["registered"] = back.registered_at
            marks["call status"] = (await remote.call(back.identity, icscf)).status
            marks["answered"] = time.time()
            await back.wic.close()
        await remote.stop()
    decoded = decode_file(pcap)
    return decoded.messages, marks, ports


def _client_names(messages: list[WireMessage], ports: dict[int, str], kill: float) -> dict[int, str]:
    """Name the client end of each HTTP connection from what it asked (ephemeral ports)."""
    names: dict[int, str] = {}
    for m in messages:
        http = m.http
        if http is None or not http.is_request or m.connection is None or m.connection in names:
            continue
        if http.path.startswith(("/login", "/directory")) or http.header("Upgrade"):
            names[m.connection] = "WIC"
        elif http.path == "/w6/v1/blocks":
            names[m.connection] = "wwsf"
        elif http.path.startswith("/w7/"):
            names[m.connection] = "i-cscf"
        elif http.method == "PUT" and http.path.endswith("/lease"):
            holder = json.loads(http.body)["holder"]
            names[m.connection] = holder.removeprefix("sip:").split(".")[0]
        else:
            names[m.connection] = "ep-cscf1" if m.time < kill else "ep-cscf2"
    return names


def _label(m: WireMessage) -> str:
    if m.http is None:
        assert m.message is not None
        line = m.message.start_line()
        return line.removeprefix("SIP/2.0 ").removesuffix(" SIP/2.0")
    http = m.http
    path = unquote(http.path).replace("sip:wrtc-!.*!@", "").replace(".ims.example.net", "")
    if http.status is None:
        return f"{http.method} {path.split('?')[0]}"
    label = f"{http.status} ({http.method} {path.split('?')[0]})"
    if http.path.endswith("/lease") and http.body:
        body = json.loads(http.body)
        holder = str(body.get("holder", "")).split(".")[0]
        label = f"{http.status} {body.get('outcome') or 'held by ' + holder}"
    return label


def events(
    messages: list[WireMessage], marks: dict[str, float], ports: dict[int, str]
) -> tuple[list[LadderEvent], int]:
    """The failover's messages as ladder events, and how many were left out."""
    legs = Legs(ports).learn(messages)
    clients = _client_names(messages, ports, marks["kill"])

    def name(m: WireMessage, end: tuple[str, int]) -> str:
        if end[1] in ports:
            return ports[end[1]]
        if m.http is not None and m.connection in clients:
            return clients[m.connection]
        found = legs.name(end, m.transport, m.dst if end == m.src else m.src)
        return "WIC" if found.startswith("WIC@") else found

    start, end = marks["kill"] - 0.02, marks["answered"]
    polls = [m.time for m in messages if m.http and m.http.path == "/directory" and m.http.is_request]
    kept_polls = [(t, t + 0.06) for t in (min(polls), max(polls))] if polls else []
    chosen = [LadderEvent(marks["kill"], "ep-cscf1", "ep-cscf1", "SIGKILL", note="eP-CSCF 1 dies")]
    left_out = 0
    for m in messages:
        if not start <= m.time <= end:
            continue
        path = unquote(m.http.path) if m.http else ""
        polling = path in ("/directory", "/w6/v1/blocks") and m.time < marks["registered"] - 0.3
        if "block2" in path or (polling and not any(a <= m.time <= b for a, b in kept_polls)):
            left_out += 1  # the other block's lease renewals, the WIC's repeated directory polls
            continue
        src, dst = name(m, m.src), name(m, m.dst)
        if src not in LANES or dst not in LANES:
            left_out += 1
            continue
        chosen.append(LadderEvent(m.time, src, dst, _label(m), m.transport, _note(m, src, dst)))
    return chosen, left_out


def _note(m: WireMessage, src: str, dst: str) -> str:
    """A word on the steps that matter (the right-hand column)."""
    message, http = m.message, m.http
    if http is not None:
        if http.path.endswith("/lease") and http.status == 200:
            return "block 1 re-allocated to ep-cscf2 (5.2.2.2)"
        if http.path.endswith("/lease") and http.status == 409:
            return "ep-cscf1's lease still runs"
        if http.method == "DELETE" and src == "ep-cscf2" and http.status is None:
            return "contact of a WIC of ep-cscf1 removed"
        if http.path == "/login" and http.status is not None:
            return "token for ep-cscf2, URL of ep-cscf2"
        return ""
    if message is None:
        return ""
    if message.start_line().startswith("REGISTER") and src == "ep-cscf2":
        contact = message.get("Contact") or ""
        if "expires=0" in contact:
            return "removes ep-cscf1's binding of block 1"
        if message.get("Authorization"):
            return "block 1 registered by ep-cscf2 (5.2.2.5.1)"
    if message.start_line().startswith("REGISTER") and src == "WIC":
        return "the WIC registers again, same +sip.instance"
    if message.start_line().startswith("SIP/2.0 500") and src == "s-cscf":
        return "ep-cscf1 unreachable: 503 becomes 500 (RFC 3261 16.7)"
    if message.start_line().startswith("SIP/2.0 200") and dst == "remote":
        return "the WIC answers through ep-cscf2"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("svg", help="where to write the SVG")
    parser.add_argument("--pcap", help="keep the capture here (default: a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wimpu-ladder-") as tmp:
        work = Path(tmp)
        pcap = Path(args.pcap) if args.pcap else work / "failover.pcapng"
        messages, marks, ports = asyncio.run(run(work, pcap))
    chosen, left_out = events(messages, marks, ports)
    took = marks["registered"] - marks["kill"]
    title = (
        f"eP-CSCF failover (TR 23.701 5.2.2.2), captured: lease {LEASE['lease_duration']} s; WIC registered "
        f"again {took:.2f} s after the kill ({left_out} renewals of block 2 and repeated polls not drawn)"
    )
    Path(args.svg).write_text(render_svg(chosen, LANES, title=title, rows_per_block=40), encoding="utf-8")
    print(f"{args.svg}: {len(chosen)} messages; marks {marks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
