"""Nodes are named by listening address *and* port (issue 14).

The remote party listens on 127.0.0.1 (or wherever a PIXIT puts it) and a scenario's nodes on
the scenario's own 127.x.y.z: one port number can be both's. Named by port alone, a TERM_001
hop list once ended in "the remote party" instead of the eP-CSCF.
"""

from __future__ import annotations

import types
from typing import Any

from captures import Legs, WireMessage
from captures.topology import CapturedTopology
from captures.verify import Verifier
from conformance.harness.views import hop_names, node_names, split_host_port
from conformance.harness.world import World
from reference.sip.message import Request
from reference.sip.parser import parse_message

SCENARIO = "127.42.0.1"
PORT = 40_000
"One port number, the P-CSCF's on the scenario's address and the remote party's on 127.0.0.1."
EP_SIP, REMOTE = (SCENARIO, PORT), ("127.0.0.1", PORT)
SCSCF = (SCENARIO, 40_010)
ENDPOINTS = {EP_SIP: "ep-cscf1/sip", SCSCF: "s-cscf", REMOTE: "remote"}


def invite(*vias: str) -> Request:
    lines = [
        "INVITE sip:wrtc-alice@block1.ims.example.net SIP/2.0",
        *(f"Via: SIP/2.0/TCP {via};branch=z9hG4bK{n}" for n, via in enumerate(vias)),
        "From: <sip:dave@remote.example.org>;tag=1",
        "To: <sip:wrtc-alice@block1.ims.example.net>",
        "Call-ID: c1",
        "CSeq: 1 INVITE",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]
    request = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(request, Request)
    return request


def world_with(endpoints: dict[tuple[str, int], str], remote: tuple[str, int]) -> World:
    """A World whose SUT and remote party are only addresses (nothing started)."""
    world = object.__new__(World)
    sut: Any = types.SimpleNamespace(endpoints=lambda: dict(endpoints))
    node = types.SimpleNamespace(host=remote[0], port=remote[1])
    world.sut = sut
    world.remote = types.SimpleNamespace(node=node)  # type: ignore[assignment]
    world._endpoints_seen = {}
    return world


def test_same_port_on_two_addresses_names_two_nodes() -> None:
    world = world_with({EP_SIP: "ep-cscf1/sip", SCSCF: "s-cscf"}, REMOTE)
    names = world.node_names()
    assert names[EP_SIP] == "eP-CSCF"
    assert names[REMOTE] == "the remote party"


def test_hops_end_in_the_ep_cscf_whose_port_the_remote_party_shares() -> None:
    """TERM_001: remote party -> S-CSCF -> eP-CSCF; the last Via is the P-CSCF's."""
    world = world_with({EP_SIP: "ep-cscf1/sip", SCSCF: "s-cscf"}, REMOTE)
    request = invite(f"{SCENARIO}:{PORT}", f"{SCSCF[0]}:{SCSCF[1]}", f"{REMOTE[0]}:{PORT}")  # top Via first
    assert world.hops(request) == ["the remote party", "S-CSCF", "eP-CSCF"]


def test_unknown_address_on_a_known_port_is_not_a_node() -> None:
    request = invite(f"127.0.0.9:{PORT}", "w1.invalid")
    assert hop_names(request, node_names(ENDPOINTS)) == ["WIC", f"127.0.0.9:{PORT}"]


def test_split_host_port() -> None:
    assert split_host_port("127.0.0.1:5060") == ("127.0.0.1", 5060)
    assert split_host_port("[::1]:5060") == ("::1", 5060)
    assert split_host_port("::1") == ("::1", None)
    assert split_host_port("example.net") == ("example.net", None)


def message(src: tuple[str, int], dst: tuple[str, int], raw: bytes, n: int = 0) -> WireMessage:
    return WireMessage(n, n + 1, 1_700_000_000.0 + n, src, dst, "TCP", raw, parse_message(raw))


def test_capture_ends_named_by_address_and_port() -> None:
    legs = Legs(addresses=ENDPOINTS)
    assert legs.name(EP_SIP) == "ep-cscf1/sip"
    assert legs.name(REMOTE) == "remote"
    assert legs.name(("127.0.0.9", PORT)) == f"127.0.0.9:{PORT}"


def test_ephemeral_end_learned_from_the_via_address() -> None:
    """A node sends from an ephemeral port; its top Via names its listening address."""
    raw = invite(f"{SCENARIO}:{PORT}").to_bytes()
    legs = Legs(addresses=ENDPOINTS).learn([message((SCENARIO, 51_000), SCSCF, raw)])
    assert legs.name((SCENARIO, 51_000)) == "ep-cscf1/sip"
    raw = invite(f"127.0.0.1:{PORT}").to_bytes()
    legs = Legs(addresses=ENDPOINTS).learn([message(("127.0.0.1", 51_001), SCSCF, raw)])
    assert legs.name(("127.0.0.1", 51_001)) == "remote"


def test_two_nodes_sending_from_one_ephemeral_port_are_told_apart_by_their_peer() -> None:
    """Linux gives two connections to different peers one ephemeral port when it can: the I-CSCF's
    connection to the S-CSCF and the S-CSCF's to the eP-CSCF both from 127.0.0.1:46320 (seen in a
    capture of FORK_002, whose step then found no CANCEL from the S-CSCF to the eP-CSCF). Each
    connection is named by the Via of the requests sent on it, and so are the Legs and the Ends
    of the offline verifier."""
    from captures.flows import Ends

    icscf = (SCENARIO, 40_020)
    endpoints = {**ENDPOINTS, icscf: "i-cscf"}
    shared = ("127.0.0.1", 46_320)
    to_scscf = message(shared, SCSCF, invite(f"{icscf[0]}:{icscf[1]}").to_bytes(), 0)
    to_ep = message(shared, EP_SIP, invite(f"{SCSCF[0]}:{SCSCF[1]}", f"{icscf[0]}:{icscf[1]}").to_bytes(), 1)
    legs = Legs(addresses=endpoints).learn([to_scscf, to_ep])
    assert legs.leg(to_scscf) == "i-cscf -> s-cscf"
    assert legs.leg(to_ep) == "s-cscf -> ep-cscf1/sip"
    assert legs.between([to_scscf, to_ep], "s-cscf", "ep-cscf1/sip") == [to_ep]
    ends = Ends(endpoints)
    assert ends.hop(to_scscf).leg == "i-cscf -> s-cscf"
    assert ends.hop(to_ep).leg == "s-cscf -> ep-cscf1/sip"


def test_block_registration_named_by_address() -> None:
    """The block registration the rules record (the steps' too) is the eP-CSCF's, not the party's
    sharing its port number on another address."""
    wimpu = "sip:wrtc-!.*!@block1.ims.example.net"
    contact = f"<sip:ep1@{SCENARIO}:{PORT};transport=tcp>"
    register = "\r\n".join([
        "REGISTER sip:ims.example.net SIP/2.0",
        f"Via: SIP/2.0/TCP {SCENARIO}:{PORT};branch=z9hG4bKr1",
        "From: <sip:ep1@ims.example.net>;tag=1",
        "To: <sip:ep1@ims.example.net>",
        "Call-ID: r1",
        "CSeq: 1 REGISTER",
        f"Contact: {contact}",
        f"Path: <sip:ep1@{SCENARIO}:{PORT};lr>",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]).encode() + b"\r\n\r\n"  # fmt: skip
    ok = "\r\n".join([
        "SIP/2.0 200 OK",
        f"Via: SIP/2.0/TCP {SCENARIO}:{PORT};branch=z9hG4bKr1",
        "From: <sip:ep1@ims.example.net>;tag=1",
        "To: <sip:ep1@ims.example.net>;tag=2",
        "Call-ID: r1",
        "CSeq: 1 REGISTER",
        f"Contact: {contact};expires=600",
        f"P-Associated-URI: <sip:ep1@ims.example.net>, <{wimpu}>",
        "Content-Length: 0",
    ]).encode() + b"\r\n\r\n"  # fmt: skip
    ephemeral = (SCENARIO, 51_002)
    messages = [message(ephemeral, SCSCF, register, 0), message(SCSCF, ephemeral, ok, 1)]
    knowledge = Verifier.of(CapturedTopology.of(ENDPOINTS, ())).learn(messages)
    assert [(r.wimpus, r.ep_cscf, r.granted) for r in knowledge.blocks] == [((wimpu,), "ep-cscf1", 600)]


def test_an_ep_cscf_is_named_by_its_wss_listener_too() -> None:
    """Kamailio's Via on the WebSocket leg names its WSS listener (docs/validation.md): the hop is
    the eP-CSCF's all the same."""
    wss = (SCENARIO, 40_020)
    names = node_names({**ENDPOINTS, wss: "ep-cscf1/wss"})
    request = invite(f"{wss[0]}:{wss[1]}", f"{SCSCF[0]}:{SCSCF[1]}", f"{REMOTE[0]}:{PORT}")
    assert hop_names(request, names) == ["the remote party", "S-CSCF", "eP-CSCF"]
