"""The capture of one scenario's packets: read while it runs, written out when it ends, and
the loopback address of its own that makes it exact.

Every scenario's stack listens on a loopback address of its own (:func:`scenario_host`,
127.x.y.z; Linux answers on all of 127.0.0.0/8), so a capture filtered on that address holds
exactly the scenario's packets, from before its first node starts (the block registrations
of option 1 happen at start-up), whatever ports the nodes pick, and scenarios running in
parallel (pytest-xdist) never see each other's traffic. Every packet of a scenario has one
end on that address: the WIC, the remote party and the registrar's clients all talk to a
node of the stack.

The clients the harness plays (WICs, the web logins) write their TLS secrets to the
capture's key log, so the WSS and HTTPS legs decrypt, and the written pcapng carries the
secrets in a Decryption Secrets Block (``tshark -r`` shows the SIP with no option).

At the end (:meth:`ScenarioWire.finish`) the scenario leaves, under the captures directory,
``<feature>/<test>.pcapng``, ``.ladder.json`` (drawn by the reports), ``.wire.json``
(every decoded message with its leg, time and redacted text, attached per step by the
reports) and ``.topology.json`` (the nodes' listening addresses and the wIMPU blocks, with
which ``wimpu-conformance verify <test>.pcapng`` checks the capture offline with no PIXIT). The
contract with ``reports/`` is the first three files.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from captures import CaptureUnavailable, KeyLog, Legs, LiveCapture, WireMessage, decode_file
from captures.cli import main as verify_main
from captures.decode import Decoded, Decoder, iter_messages
from captures.topology import CapturedTopology, write_topology
from conformance.redact import redact
from reference.sip.errors import SipError

from .expect import EVENT_WAIT
from .wire_verdict import WireVerdict

__all__ = ["ScenarioWire", "WireUnavailable", "lane_of", "release_host", "scenario_host", "slug"]

_counter = itertools.count()
_LANE_ORDER = ("WIC", "wwsf", "ep-cscf", "registrar", "i-cscf", "s-cscf", "remote")


class WireUnavailable(Exception):
    """The scenario's traffic cannot be observed here (no capture tool allowed): inconclusive."""


CLAIM_PORT = 30_999
"""The UDP port a scenario binds on its loopback address to claim it (below Linux's ephemeral
range, 32768-60999, so no node listening on port 0 ever takes it)."""

_claims: dict[str, socket.socket] = {}


def scenario_host() -> str:
    """A loopback address no other scenario of this machine uses at the same time.

    Candidates are 127.<20 + pid mod 200>.<n div 250>.<n mod 250 + 1> (n counts this process's
    scenarios). Two processes can draw the same candidate (pids 200 apart: a nested pytest
    run and its parent, xdist workers), so each scenario *claims* its address by binding
    UDP :data:`CLAIM_PORT` on it; an address another process holds is skipped. The claim
    lasts until :func:`release_host`, so captures filtered on the address never mix two runs.
    """
    for _ in range(10_000):
        n = next(_counter)
        host = f"127.{20 + os.getpid() % 200}.{(n // 250) % 256}.{n % 250 + 1}"
        claim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            claim.bind((host, CLAIM_PORT))
        except OSError:
            claim.close()
            continue
        _claims[host] = claim
        return host
    raise RuntimeError("no free loopback address for a scenario (10,000 tried)")


def release_host(host: str) -> None:
    """Give back the address :func:`scenario_host` claimed (the scenario's nodes are stopped)."""
    claim = _claims.pop(host, None)
    if claim is not None:
        claim.close()


def slug(text: str) -> str:
    """A file-name-safe form of a test name (the form reports.conformance looks for)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def lane_of(name: str) -> str:
    """The ladder lane of a capture end: one lane per node (IWF and P-CSCF are one eP-CSCF)."""
    return name.split("/", 1)[0]


CLIENT_HOST = "127.0.0.1"
"""Where the suite's clients connect from (the WICs, the web logins, the registrar observer) and its
capture probe goes: the default loopback address, which other processes on the machine share."""


def capture_ends(sut_addresses: Iterable[str], peer_host: str) -> tuple[list[str], list[str]]:
    """``within`` and ``anchors`` of an external SUT's capture by ports (:class:`ScenarioWire`): both
    ends of a packet among the SUT's listening addresses (``sut_addresses``, the PIXIT's nodes, the
    emulated ones included), the suite's peers' host and :data:`CLIENT_HOST`; one end at least on an
    address of the SUT or of the suite's nodes. :data:`CLIENT_HOST` anchors only when a node listens
    there: a packet between two :data:`CLIENT_HOST` ends on a port of the SUT's (another lab on the
    default address with the same ports) is not the SUT's."""
    anchors = set(sut_addresses) | ({peer_host} - {CLIENT_HOST})
    return sorted(anchors | {peer_host, CLIENT_HOST}), sorted(anchors)


class ScenarioWire:
    """The capture of one scenario.

    Args:
        hosts: the scenario's own loopback addresses (every packet to or from them is captured);
            empty for an external SUT, whose nodes are captured by ``ports``.
        ports: the listening ports of the SUT's nodes (used when there are no ``hosts``).
        within: with ``ports``, the addresses both ends of a captured packet must have (the
            SUT's and the suite's): the same port numbers used elsewhere at the same time stay out.
        anchors: with ``within``, the addresses one end at least must have (:func:`capture_ends`).
        directory: where the files go (``captures/<feature>``).
        stem: the file name without suffix (the test name, :func:`slug`).
    """

    def __init__(
        self,
        hosts: list[str],
        ports: Mapping[int, str],
        directory: Path,
        stem: str,
        within: Sequence[str] = (),
        anchors: Sequence[str] = (),
    ) -> None:
        self.hosts = hosts
        self.directory = directory
        self.stem = stem
        # written under a name of this process, renamed when complete: two runs in one checkout
        # never write into each other's capture
        part = directory / f".{stem}.{os.getpid()}"
        self.capture = LiveCapture(
            directory / f"{part.name}.pcapng",
            [] if hosts else list(ports),
            hosts=hosts,
            within=[] if hosts else within,
            anchors=[] if hosts else anchors,
            keylog_path=directory / f"{part.name}.keys",
        )
        self.unavailable: str | None = None
        self.at_end: Decoded | None = None
        "The whole capture decoded, once it has stopped."

    @property
    def pcapng(self) -> Path:
        """The scenario's capture file (complete once :meth:`finish` returned)."""
        return self.directory / f"{self.stem}.pcapng"

    def start(self) -> None:
        """Capture from now on; without a capture tool, say why once and carry on (inconclusive)."""
        try:
            self.capture.start(timeout=EVENT_WAIT)
        except CaptureUnavailable as exc:
            self.unavailable = str(exc)

    def client_context(self, base: ssl.SSLContext) -> ssl.SSLContext:
        """``base`` writing its TLS secrets to the capture's key log."""
        if self.unavailable is None:
            base.keylog_filename = str(self.capture.keylog_path)
        return base

    def messages(self) -> list[WireMessage]:
        """Every message captured so far, decoded (the capture goes on).

        Raises:
            WireUnavailable: the capture could not start here.
        """
        return self.decoded().messages

    def decoded(self) -> Decoded:
        """Every message captured so far, the decoder's problems in the order they arose, and the TCP
        connections it saw.

        Raises:
            WireUnavailable: the capture could not start here.
        """
        if self.at_end is not None:
            return self.at_end
        if self.unavailable is not None:
            raise WireUnavailable(self.unavailable)
        try:
            self.capture.sync(timeout=EVENT_WAIT)
        except CaptureUnavailable as exc:
            raise WireUnavailable(str(exc)) from None
        decoder = Decoder(KeyLog.from_file(self.capture.keylog_path))
        messages = list(iter_messages(self.capture.path, decoder=decoder))
        return Decoded(messages, decoder.problems, decoder.packets, decoder.connections)

    def finish(self, topology: CapturedTopology, info: Mapping[str, str]) -> list[WireMessage]:
        """Stop; decode the file; write the topology, the ladder and the message list next to the pcapng.

        ``topology`` (:meth:`captures.topology.CapturedTopology.of`: the nodes' listening addresses,
        the SUT's blocks, its answers on the profile's choices, the authorised web origins, the
        tester's clock jumps, whether the capture is complete) goes into the ``.topology.json``
        (:func:`captures.topology.write_topology`), with which ``wimpu-conformance verify
        <test>.pcapng`` names the nodes, knows the blocks and which profile choices the SUT follows
        unaided; ``info`` is written into the ``.wire.json`` (feature, test, scenario).
        """
        if self.unavailable is not None:
            return []
        self.capture.stop(timeout=EVENT_WAIT)
        self.capture.keylog_path.unlink(missing_ok=True)  # the secrets are in the pcapng now
        decoded = decode_file(self.capture.path)
        # before the capture: a capture never lacks it
        write_topology(self.pcapng, topology)
        os.replace(self.capture.path, self.pcapng)
        self.at_end = decoded
        legs = Legs(addresses=topology.endpoints()).learn(decoded.messages)
        self._write(decoded.messages, legs, info)
        return decoded.messages

    @property
    def verdicts_path(self) -> Path:
        """Where :meth:`judge` writes the capture rules' verdicts (``verify --json``)."""
        return self.directory / f"{self.stem}.verdicts.json"

    def judge(self) -> WireVerdict:
        """The capture rules' verdicts on the whole capture (after :meth:`finish`): the scenario's
        own ``wimpu-conformance verify <test>.pcapng --json <test>.verdicts.json``, run here by the
        same function a lab runs offline, with the topology beside the capture. One judge per
        requirement: the live verdict and the offline one are one computation on one file.
        """
        out, err = io.StringIO(), io.StringIO()
        status = verify_main(
            ["verify", str(self.pcapng), "--json", str(self.verdicts_path)], out=out, err=err
        )
        return WireVerdict.read(self.verdicts_path, status, err.getvalue())

    def _write(self, messages: list[WireMessage], legs: Legs, info: Mapping[str, str]) -> None:
        start = messages[0].time if messages else 0.0
        entries: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for m in messages:
            src, dst = legs.src(m), legs.dst(m)
            line = redact(m.start_line())
            entries.append(
                {
                    "index": m.index,
                    "frame": m.frame,
                    "time": m.time,
                    "src": src,
                    "dst": dst,
                    "transport": m.transport,
                    "start_line": line,
                    "raw": redact(m.raw.decode("utf-8", "replace")),
                }
            )
            events.append(
                {
                    "time": round(m.time - start, 6),
                    "src": lane_of(src),
                    "dst": lane_of(dst),
                    "label": _label(m),
                    "transport": m.transport,
                    "note": _note(m),
                }
            )
        lanes = sorted(
            {lane for e in events for lane in (e["src"], e["dst"])},
            key=lambda lane: (_rank(lane), lane),
        )
        document = {**info, "pcapng": self.pcapng.name, "messages": entries}
        ladder = {"lanes": lanes, "events": events}
        for suffix, content in ((".wire.json", document), (".ladder.json", ladder)):
            path = self.directory / f"{self.stem}{suffix}"
            path.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def _rank(lane: str) -> int:
    for rank, prefix in enumerate(_LANE_ORDER):
        if lane.startswith(prefix):
            return rank
    return len(_LANE_ORDER)


def _label(m: WireMessage) -> str:
    if m.http is not None:
        if m.http.is_request:
            return f"{m.http.method} {m.http.path.split('?', 1)[0]}"
        return f"{m.http.status}"
    if m.message is not None:
        start = m.message.start_line()
        if start.startswith("SIP/2.0"):
            return start.removeprefix("SIP/2.0 ")
        return start.split(" ", 1)[0]
    return "unparsable"


def _note(m: WireMessage) -> str:
    if m.message is None:
        return ""
    try:
        return f"CSeq {m.message.cseq}"
    except SipError:  # a malformed CSeq is shown as nothing
        return ""
