"""The ladder diagram renderer: structure, escaping, wrapping, determinism, input files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports.ladder import LadderEvent, load_ladder, render_svg, transport_colour

SVG = "{http://www.w3.org/2000/svg}"
LANES = ["WIC", "eP-CSCF", "wIMPU Registrar", "S-CSCF"]
FLOW = [
    LadderEvent(10.000, "WIC", "eP-CSCF", "REGISTER sip:ims.example.net", "WSS", "token in Authorization"),
    LadderEvent(10.004, "eP-CSCF", "wIMPU Registrar", "PUT /w6/v1/registrations", "HTTP"),
    LadderEvent(10.006, "wIMPU Registrar", "eP-CSCF", "201 Created", "HTTP"),
    LadderEvent(10.009, "eP-CSCF", "WIC", "200 OK", "WSS"),
    LadderEvent(10.020, "S-CSCF", "eP-CSCF", "INVITE sip:wrtc-alice@block1.ims.example.net", "TCP"),
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def own_text(element: ET.Element) -> str:
    """The visible text of a <text> (its <title> child, a tooltip, left out)."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def test_one_arrow_per_event_with_its_label_and_transport() -> None:
    root = parse(render_svg(FLOW, LANES, title="registration"))
    events = [g for g in root.iter(f"{SVG}g") if g.get("class") == "event"]
    assert len(events) == len(FLOW)
    assert len([p for p in root.iter(f"{SVG}polygon") if p.get("class") == "head"]) == len(FLOW)
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert labels[:4] == ["REGISTER sip:ims.example.net", "PUT /w6/v1/registrations", "201 Created", "200 OK"]
    transports = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "transport"]
    assert transports == ["WSS", "HTTP", "HTTP", "WSS", "TCP"]
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "note"] == ["token in Authorization"]


def test_one_lane_per_node_in_the_given_order_and_times_from_the_first_event() -> None:
    root = parse(render_svg(FLOW, LANES))
    names = [own_text(t) for t in root.iter(f"{SVG}text") if t.get("class") == "lane-name"]
    assert names == LANES
    times = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "time"][1:]
    assert times == ["0.000", "0.004", "0.006", "0.009", "0.020"]


def test_arrows_point_from_source_to_destination_and_are_coloured_by_transport() -> None:
    root = parse(render_svg(FLOW[:4], LANES))
    lines = [line for line in root.iter(f"{SVG}line") if "arrow" in (line.get("class") or "").split()]
    lines = [line for line in lines if "legend" not in (line.get("class") or "").split()]
    assert float(lines[0].get("x1", 0)) < float(lines[0].get("x2", 0))  # WIC -> eP-CSCF: to the right
    assert float(lines[3].get("x1", 0)) > float(lines[3].get("x2", 0))  # eP-CSCF -> WIC: to the left
    assert (
        lines[0].get("stroke")
        == transport_colour("WSS")
        != transport_colour("HTTP")
        == lines[1].get("stroke")
    )
    assert transport_colour("sctp") == transport_colour("SCTP")
    assert transport_colour("W7") == transport_colour("W7")  # any other transport: a stable colour


def test_a_long_flow_wraps_into_blocks_with_the_lanes_repeated() -> None:
    events = [LadderEvent(i * 0.1, "WIC", "eP-CSCF", f"MESSAGE {i}", "WSS") for i in range(12)]
    root = parse(render_svg(events, ["WIC", "eP-CSCF"], rows_per_block=5))
    blocks = [g for g in root.iter(f"{SVG}g") if g.get("class") == "block"]
    assert len(blocks) == 3
    assert len([t for t in root.iter(f"{SVG}text") if t.get("class") == "lane-name"]) == 3 * 2
    assert len([t for t in root.iter(f"{SVG}text") if t.get("class") == "continued"]) == 2
    with pytest.raises(ValueError):
        render_svg(events, rows_per_block=0)


def test_text_is_escaped_and_the_output_is_deterministic() -> None:
    nasty = [
        LadderEvent(0, "<WIC & co>", 'eP "CSCF"', 'INVITE <sip:a@b>;x="&amp;" \x00\x07', "W&S", "]]> <!--")
    ]
    svg = render_svg(nasty, title="</svg><script>alert(1)</script>")
    root = parse(svg)
    assert "<script>" not in svg and root.find(f".//{SVG}script") is None
    names = [own_text(t) for t in root.iter(f"{SVG}text") if t.get("class") == "lane-name"]
    assert names == ["<WIC & co>", 'eP "CSCF"']
    assert render_svg(FLOW, LANES) == render_svg(list(reversed(FLOW)), LANES)


def test_a_message_to_itself_unknown_lanes_and_no_events() -> None:
    root = parse(render_svg([LadderEvent(0, "eP-CSCF", "eP-CSCF", "timer F"), *FLOW[:1]], ["eP-CSCF"]))
    names = [own_text(t) for t in root.iter(f"{SVG}text") if t.get("class") == "lane-name"]
    assert names == ["eP-CSCF", "WIC"]  # a lane an event names is added after the given ones
    assert [p for p in root.iter(f"{SVG}path") if p.get("class") == "arrow"]
    empty = parse(render_svg([]))
    assert "no messages" in "".join(empty.itertext())


def test_long_labels_are_clipped_with_the_whole_text_in_the_tooltip() -> None:
    label = "REGISTER " + "x" * 300
    root = parse(render_svg([LadderEvent(0, "A", "B", label, "TCP")]))
    shown = next(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label")
    assert shown is not None and shown.endswith("\N{HORIZONTAL ELLIPSIS}") and len(shown) < 40
    assert any(label in "".join(t.itertext()) for t in root.iter(f"{SVG}title"))


def test_load_ladder_reads_both_forms_and_names_the_file_on_errors(tmp_path: Path) -> None:
    plain = tmp_path / "a.ladder.json"
    plain.write_text(
        json.dumps([{"time": 1.5, "src": "A", "dst": "B", "label": "OPTIONS", "transport": "UDP"}])
    )
    assert load_ladder(plain) == ([], [LadderEvent(1.5, "A", "B", "OPTIONS", "UDP")])
    framed = tmp_path / "b.ladder.json"
    events = [
        {"time": "2026-01-01T00:00:00.250+00:00", "src": "A", "dst": "B", "label": "200 OK", "note": "n"}
    ]
    framed.write_text(json.dumps({"lanes": ["B", "A"], "events": events}))
    lanes, loaded = load_ladder(framed)
    assert lanes == ["B", "A"] and loaded[0].time % 1 == 0.25 and loaded[0].note == "n"
    for bad in ("{", "[1]", '[{"time": 0, "src": "A"}]', '{"events": 3}'):
        broken = tmp_path / "broken.ladder.json"
        broken.write_text(bad)
        with pytest.raises(ValueError, match="broken.ladder.json"):
            load_ladder(broken)


# --- forking, and large flows ------------------------------------------------------------------------

FORK = [  # the labels and lanes the step harness writes: methods, reason phrases, one lane per node
    ("remote", "s-cscf", "INVITE", "TCP"),
    ("s-cscf", "ep-cscf1", "INVITE", "TCP"),
    ("ep-cscf1", "WIC@51234", "INVITE", "WSS"),
    ("ep-cscf1", "WIC@51236", "INVITE", "WSS"),
    ("WIC@51234", "ep-cscf1", "180 Ringing", "WSS"),
    ("ep-cscf1", "s-cscf", "180 Ringing", "TCP"),
    ("WIC@51236", "ep-cscf1", "180 Ringing", "WSS"),
    ("ep-cscf1", "s-cscf", "180 Ringing", "TCP"),
    ("WIC@51236", "ep-cscf1", "200 OK", "WSS"),
    ("ep-cscf1", "WIC@51234", "CANCEL", "WSS"),
    ("ep-cscf1", "s-cscf", "200 OK", "TCP"),
    ("WIC@51234", "ep-cscf1", "200 OK", "WSS"),
    ("WIC@51234", "ep-cscf1", "487 Request Terminated", "WSS"),
    ("ep-cscf1", "WIC@51234", "ACK", "WSS"),
    ("s-cscf", "remote", "200 OK", "TCP"),
    ("remote", "s-cscf", "ACK", "TCP"),
    ("s-cscf", "ep-cscf1", "ACK", "TCP"),
    ("ep-cscf1", "WIC@51236", "ACK", "WSS"),
]


def fork_events() -> list[LadderEvent]:
    return [
        LadderEvent(0.002 * n, src, dst, label, tr, "CSeq 1") for n, (src, dst, label, tr) in enumerate(FORK)
    ]


def lane_x(root: ET.Element) -> dict[str, float]:
    names = [own_text(t) for t in root.iter(f"{SVG}text") if t.get("class") == "lane-name"]
    xs = [float(t.get("x", 0)) for t in root.iter(f"{SVG}text") if t.get("class") == "lane-name"]
    return dict(zip(names, xs, strict=True))


def test_a_forked_invite_has_one_arrow_per_wic_then_the_winner_and_the_cancel_of_the_other() -> None:
    svg = render_svg(fork_events(), ["WIC@51234", "ep-cscf1", "s-cscf", "remote"], title="forking")
    root = parse(svg)
    x = lane_x(root)
    assert list(x) == ["WIC@51234", "WIC@51236", "ep-cscf1", "s-cscf", "remote"]  # the WICs side by side
    events = [g for g in root.iter(f"{SVG}g") if g.get("class") == "event"]
    assert len(events) == len(FORK)
    heads = [p for p in root.iter(f"{SVG}polygon") if p.get("class") == "head"]
    assert len(heads) == len(FORK)

    def arrows(label: str, src: str | None = None) -> list[tuple[float, float]]:
        found = []
        for group in events:
            [line] = [e for e in group if e.tag == f"{SVG}line"]
            text = next(t.text for t in group if t.get("class") == "label")
            tip = float(next(p for p in group if p.tag == f"{SVG}polygon").get("points", "").split(",")[0])
            if text == label and (src is None or abs(float(line.get("x1", 0)) - x[src]) < 1):
                found.append((float(line.get("x1", 0)), tip))
        return found

    invites = arrows("INVITE", "ep-cscf1")
    assert len(invites) == 2
    assert abs(invites[0][1] - x["WIC@51234"]) <= 1 and abs(invites[1][1] - x["WIC@51236"]) <= 1
    [(start, tip)] = [a for a in arrows("200 OK") if abs(a[0] - x["WIC@51236"]) < 1]  # the winner answers
    assert tip < x["ep-cscf1"] and start == x["WIC@51236"]
    [(_, cancel_tip)] = arrows("CANCEL")  # and only the other branch is cancelled
    assert abs(cancel_tip - x["WIC@51234"]) < 2
    assert len(arrows("487 Request Terminated")) == 1 and len(arrows("ACK", "ep-cscf1")) == 2
    [fork] = [g for g in root.iter(f"{SVG}g") if g.get("class") == "fork-group"]
    assert [t.text for t in fork if t.get("class") == "fork-label"] == ["INVITE \N{MULTIPLICATION SIGN}2"]
    dashed = [e for e in root.iter(f"{SVG}line") if "response" in (e.get("class") or "").split()]
    responses = [f for f in FORK if f[2][0].isdigit()]
    assert len(dashed) == len(responses) + 1  # and the legend's sample
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert "ep-cscf1 \N{RIGHTWARDS ARROW} WIC@51234 WSS: CANCEL (CSeq 1)" in titles


def test_many_lanes_and_events_stay_legible() -> None:
    lanes = [
        "WIC@51234",
        "WIC@51236",
        "WIC@51240",
        "wwsf",
        "ep-cscf1",
        "registrar",
        "i-cscf",
        "s-cscf",
        "remote",
    ]
    events = []
    for n in range(64):  # a pause of a second after every 20 events, as between two steps
        src, dst = lanes[n % len(lanes)], lanes[(n + 1 + n % 4) % len(lanes)]  # never to itself
        events.append(
            LadderEvent(n * 0.01 + n // 20, src, dst, "PUT /w6/v1/registrations" if n % 7 else "INVITE")
        )
    root = parse(render_svg(events, lanes))
    width = float(root.get("width", 0))
    assert width < 78 + 200 * len(lanes), "short labels: narrower lanes than the widest"
    labels = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert len(labels) == 64 and not any(label.endswith("\N{HORIZONTAL ELLIPSIS}") for label in labels)
    blocks = [g for g in root.iter(f"{SVG}g") if g.get("class") == "block"]
    sizes = [len([e for e in b if e.get("class") == "event"]) for b in blocks]
    assert sizes == [20, 20, 24], "a block ends where the flow pauses (the last one holds up to 25)"
    continued = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "continued"]
    assert continued == [f"continued ({n} of 64 messages)" for n in (20, 40)]
    names = [own_text(t) for t in root.iter(f"{SVG}text") if t.get("class") == "lane-name"]
    assert names == lanes * len(blocks), "every lane named in full in every block"
