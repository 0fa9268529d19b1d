"""Ladder (sequence) diagrams of a message flow as standalone SVG, like Wireshark's flow view or sngrep.

Input: events (time, source lane, destination lane, label, transport, optional note) and an ordered lane
list. Output: one SVG document with a lane (lifeline) per node, one arrow per event with its label above
and its transport below, the time (seconds from the first event) at the left, the note at the right, and
a colour per transport. Requests are solid arrows, responses (a label that starts with a status code,
``SIP/2.0`` or ``HTTP/``) dashed. A request sent by one lane to several others in a row (a forking proxy's
INVITE to each contact) is joined by a bracket at its source marked ``INVITE ×3``. A long flow wraps
vertically: at most ``rows_per_block`` events per block, a new block starting where the flow pauses
(the largest time gap in the last quarter of the block), with the lane headers repeated.

Pure string building, no external library; every text is XML-escaped and the output is deterministic
(the same input gives the same bytes). ``load_ladder`` reads the ``*.ladder.json`` files the step
harness writes: either a list of events, or ``{"lanes": [...], "events": [...]}``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

__all__ = ["LadderEvent", "load_ladder", "render_svg", "transport_colour"]

LANE_WIDTH = 200
"""The widest lane; a flow whose labels and lane names are short gets narrower lanes (down to 130)."""
MIN_LANE_WIDTH = 130
TIME_WIDTH = 78
NOTE_WIDTH = 220
HEADER_HEIGHT = 44
ROW_HEIGHT = 36
BLOCK_GAP = 28
MARGIN = 12
LEGEND_HEIGHT = 30
CHAR_WIDTH = 6.6  # average width of one character of the 11px label font, for truncation
WIDE_LABEL = 32  # characters of a label that may widen the lanes

_COLOURS = {
    "UDP": "#1f77b4",
    "TCP": "#2ca02c",
    "TLS": "#17becf",
    "WS": "#ff7f0e",
    "WSS": "#d62728",
    "HTTP": "#9467bd",
    "HTTPS": "#8c564b",
    "SCTP": "#bcbd22",
}
_FALLBACK = ("#e377c2", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173")
_INVALID_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_RESPONSE = re.compile(r"\s*(?:[1-6]\d\d\b|SIP/2\.0\s|HTTP/)")


@dataclass(frozen=True)
class LadderEvent:
    """One message: ``src`` sends ``label`` to ``dst`` at ``time`` (seconds) over ``transport``."""

    time: float
    src: str
    dst: str
    label: str
    transport: str = ""
    note: str = ""


def is_response(label: str) -> bool:
    """Whether a label is a response: ``200 OK``, ``SIP/2.0 180 Ringing``, ``HTTP/1.1 201 ...``."""
    return _RESPONSE.match(label) is not None


def transport_colour(transport: str) -> str:
    """The colour of a transport: a fixed palette for the usual ones, a stable pick for any other."""
    key = transport.strip().upper()
    if key in _COLOURS:
        return _COLOURS[key]
    if not key:
        return "#444444"
    return _FALLBACK[sum(map(ord, key)) % len(_FALLBACK)]


def _text(value: str) -> str:
    return escape(_INVALID_XML.sub("\N{REPLACEMENT CHARACTER}", value))


def _attr(value: str) -> str:
    return quoteattr(_INVALID_XML.sub("\N{REPLACEMENT CHARACTER}", value))


def _clip(value: str, width: float) -> str:
    limit = max(4, int(width / CHAR_WIDTH))
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _kin(lane: str) -> str:
    """What lanes of one kind share: the part before ``@`` (``WIC@51234`` and ``WIC@51236``)."""
    return lane.split("@", 1)[0] if "@" in lane else lane


def _lanes(lanes: Sequence[str], events: Sequence[LadderEvent]) -> list[str]:
    """The given lanes in order, then any lane an event names that the list lacks, in order of use.

    A lane the list lacks goes right after the last lane of its kind (``WIC@51236`` after ``WIC@51234``),
    so the branches of a fork sit side by side.
    """
    result = list(dict.fromkeys(lanes))
    for event in events:
        for lane in (event.src, event.dst):
            if lane in result:
                continue
            kin = [i for i, known in enumerate(result) if "@" in lane and _kin(known) == _kin(lane)]
            if kin:
                result.insert(kin[-1] + 1, lane)
            else:
                result.append(lane)
    return result


def _lane_width(lanes: Sequence[str], events: Sequence[LadderEvent]) -> float:
    """Lanes just wide enough for their names and for each label over the lanes its arrow spans.

    A label counts for at most ``WIDE_LABEL`` characters: a longer one (an HTTP path with a URN in it) is
    clipped rather than widening every lane; its tooltip has it whole.
    """
    need = max(len(lane) for lane in lanes) * 7.4 + 28  # the 12px bold lane name, in its box
    for event in events:
        text = min(WIDE_LABEL, len(" ".join(event.label.split()))) * CHAR_WIDTH + 8
        distance = abs(lanes.index(event.src) - lanes.index(event.dst))
        need = max(need, text + 44 if distance == 0 else (text - 40) / distance)
    return float(min(LANE_WIDTH, max(MIN_LANE_WIDTH, math.ceil(need / 10) * 10)))


def _blocks(events: Sequence[LadderEvent], rows: int) -> list[list[LadderEvent]]:
    """``events`` cut into blocks of at most ``rows``, each cut where the flow pauses longest.

    The cut is looked for in the last quarter of a full block: the largest gap between two events there
    (the latest of equal gaps), so a burst (a fork, a transaction) is not split when a pause is near.
    """
    blocks: list[list[LadderEvent]] = []
    start = 0
    while len(events) - start > rows:
        best = start + rows
        gap = events[best].time - events[best - 1].time
        for cut in range(start + rows - 1, start + max(1, rows - rows // 4) - 1, -1):
            here = events[cut].time - events[cut - 1].time
            if here > gap + 1e-9:
                best, gap = cut, here
        blocks.append(list(events[start:best]))
        start = best
    blocks.append(list(events[start:]))
    return blocks


def _forks(block: Sequence[LadderEvent]) -> list[tuple[int, int]]:
    """Runs of rows (first, last) where one lane sends the same request to different lanes in a row."""
    runs: list[tuple[int, int]] = []
    first = 0
    for row in range(1, len(block) + 1):
        same = row < len(block) and (
            block[row].src == block[first].src
            and block[row].label.split(" ", 1)[0] == block[first].label.split(" ", 1)[0]
            and block[row].dst not in {event.dst for event in block[first:row]}
            and block[row].src != block[row].dst
            and block[first].src != block[first].dst
            and not is_response(block[row].label)
        )
        if not same:
            if row - first > 1:
                runs.append((first, row - 1))
            first = row
    return runs


def _header(lanes: Sequence[str], top: float, height: float, lw: float) -> list[str]:
    out = []
    for index, lane in enumerate(lanes):
        x = TIME_WIDTH + lw * index + lw / 2
        out.append(
            f'<line class="lifeline" x1="{_num(x)}" y1="{_num(top + HEADER_HEIGHT - 8)}" x2="{_num(x)}" '
            f'y2="{_num(top + height)}"/>'
        )
        out.append(
            f'<rect class="lane" x="{_num(x - lw / 2 + 8)}" y="{_num(top + 4)}" '
            f'width="{_num(lw - 16)}" height="{HEADER_HEIGHT - 12}" rx="4"/>'
        )
        out.append(
            f'<text class="lane-name" x="{_num(x)}" y="{_num(top + 24)}" text-anchor="middle">'
            f"<title>{_text(lane)}</title>{_text(_clip(lane, lw - 24))}</text>"
        )
    return out


def _arrow(
    event: LadderEvent, lanes: Sequence[str], y: float, t0: float, right: float, lw: float
) -> list[str]:
    colour = transport_colour(event.transport)
    kind = "arrow response" if is_response(event.label) else "arrow"
    i, j = lanes.index(event.src), lanes.index(event.dst)
    x1 = TIME_WIDTH + lw * i + lw / 2
    x2 = TIME_WIDTH + lw * j + lw / 2
    label = " ".join(event.label.split())
    title = f"{event.src} \N{RIGHTWARDS ARROW} {event.dst} {event.transport}: {label}".strip()
    if event.note:
        title += f" ({' '.join(event.note.split())})"
    out = [f'<g class="event" data-transport={_attr(event.transport)}><title>{_text(title)}</title>']
    out.append(
        f'<text class="time" x="{TIME_WIDTH - 8}" y="{_num(y + 4)}" text-anchor="end">'
        f"{event.time - t0:.3f}</text>"
    )
    if i == j:  # a message to itself: a small loop to the right of the lane
        loop = 34
        out.append(
            f'<path class="{kind}" d="M{_num(x1)},{_num(y - 6)} h{loop} v12 h-{loop - 7}" fill="none" '
            f'stroke="{colour}"/>'
        )
        out.append(
            f'<polygon class="head" points="{_num(x1)},{_num(y + 6)} {_num(x1 + 8)},{_num(y + 2)} '
            f'{_num(x1 + 8)},{_num(y + 10)}" fill="{colour}"/>'
        )
        lx, anchor, span = x1 + loop + 6, "start", float(lw - loop - 10)
        out.append(
            f'<text class="label" x="{_num(lx)}" y="{_num(y - 1)}" text-anchor="{anchor}" '
            f'fill="{colour}">{_text(_clip(label, span))}</text>'
        )
        if event.transport:
            out.append(
                f'<text class="transport" x="{_num(lx)}" y="{_num(y + 11)}" text-anchor="{anchor}">'
                f"{_text(_clip(event.transport, span))}</text>"
            )
    else:
        direction = 1 if x2 > x1 else -1
        tip = x2 - direction * 1
        out.append(
            f'<line class="{kind}" x1="{_num(x1)}" y1="{_num(y)}" x2="{_num(tip - direction * 8)}" '
            f'y2="{_num(y)}" stroke="{colour}"/>'
        )
        back = _num(tip - direction * 9)
        out.append(
            f'<polygon class="head" points="{_num(tip)},{_num(y)} {back},{_num(y - 4.5)} '
            f'{back},{_num(y + 4.5)}" fill="{colour}"/>'
        )
        mid, span = (x1 + x2) / 2, abs(x2 - x1) + 40  # a label may reach over the lifelines a little
        out.append(
            f'<text class="label" x="{_num(mid)}" y="{_num(y - 5)}" text-anchor="middle" '
            f'fill="{colour}">{_text(_clip(label, span))}</text>'
        )
        if event.transport:
            out.append(
                f'<text class="transport" x="{_num(mid)}" y="{_num(y + 13)}" text-anchor="middle">'
                f"{_text(_clip(event.transport, span))}</text>"
            )
    if event.note:
        out.append(
            f'<text class="note" x="{_num(right + 10)}" y="{_num(y + 4)}">'
            f"{_text(_clip(event.note, NOTE_WIDTH - 14))}</text>"
        )
    out.append("</g>")
    return out


def _fork(run: Sequence[LadderEvent], first: int, lanes: Sequence[str], top: float, lw: float) -> list[str]:
    """A bracket at the source lane joining the rows of one fork (``run`` starts at row ``first``)."""
    source = lanes.index(run[0].src)
    x = TIME_WIDTH + lw * source + lw / 2
    y1 = top + HEADER_HEIGHT + ROW_HEIGHT * first + ROW_HEIGHT / 2 + 4
    y2 = y1 + ROW_HEIGHT * (len(run) - 1)
    rightwards = sum(1 if lanes.index(event.dst) > source else -1 for event in run) >= 0
    side = -1 if rightwards else 1  # the mark goes on the side the arrows do not leave to
    name = run[0].label.split(" ", 1)[0]
    tip = f"{run[0].src} forks {name} to {len(run)} destinations: {', '.join(event.dst for event in run)}"
    return [
        f'<g class="fork-group"><title>{_text(tip)}</title>',
        f'<line class="fork" x1="{_num(x)}" y1="{_num(y1 - 3)}" x2="{_num(x)}" y2="{_num(y2 + 3)}"/>',
        f'<text class="fork-label" x="{_num(x + side * 6)}" y="{_num((y1 + y2) / 2 + 3)}" '
        f'text-anchor="{"end" if side < 0 else "start"}">{_text(name)} \N{MULTIPLICATION SIGN}{len(run)}'
        "</text>",
        "</g>",
    ]


_STYLE = "".join(  # every rule under .ladder: an SVG inlined in an HTML page styles nothing else
    f".ladder {rule}"
    for rule in (
        "text{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:11px;fill:#222}",
        ".lane{fill:#eef2f7;stroke:#7a8aa0}",
        ".lane-name{font-weight:bold;font-size:12px}",
        ".lifeline{stroke:#9aa7b8;stroke-dasharray:4 3}",
        ".arrow{stroke-width:1.6}",
        ".response{stroke-dasharray:6 3}",
        ".fork{stroke:#333;stroke-width:3}",
        ".fork-label{font-size:9px;font-weight:bold;fill:#333}",
        ".label,.transport,.fork-label{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}",
        ".time{fill:#555}",
        ".transport{font-size:9px;fill:#666}",
        ".note{font-style:italic;fill:#666}",
        ".continued{fill:#888;font-style:italic}",
        ".title{font-weight:bold;font-size:12px}",
    )
)


def render_svg(
    events: Iterable[LadderEvent],
    lanes: Sequence[str] = (),
    *,
    title: str = "",
    rows_per_block: int = 25,
) -> str:
    """The ladder diagram of ``events`` (sorted by time, stable) over ``lanes``, as an SVG document."""
    if rows_per_block < 1:
        raise ValueError("rows_per_block must be at least 1")
    ordered = sorted(events, key=lambda event: event.time)
    all_lanes = _lanes(lanes, ordered) or ["(no node)"]
    t0 = ordered[0].time if ordered else 0.0
    has_notes = any(event.note for event in ordered)
    lw = _lane_width(all_lanes, ordered)
    right = TIME_WIDTH + lw * len(all_lanes)
    width = right + (NOTE_WIDTH if has_notes else 0) + MARGIN
    blocks = _blocks(ordered, rows_per_block)
    top = MARGIN + (22 if title or t0 > 1e8 else 0)
    body: list[str] = []
    shown = 0
    if title or t0 > 1e8:
        start = ""
        if t0 > 1e8:  # absolute times: say when the flow started
            start = datetime.fromtimestamp(t0, UTC).strftime("start %Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
        caption = "  \N{EM DASH}  ".join(part for part in (title, start) if part)
        body.append(f'<text class="title" x="{MARGIN}" y="{MARGIN + 12}">{_text(caption)}</text>')
    for number, block in enumerate(blocks):
        height = HEADER_HEIGHT + ROW_HEIGHT * max(len(block), 1) + 8
        body.append(f'<g class="block" data-block="{number + 1}">')
        body.extend(_header(all_lanes, top, height, lw))
        body.append(
            f'<text class="time" x="{TIME_WIDTH - 8}" y="{_num(top + 24)}" text-anchor="end">time (s)</text>'
        )
        if not block:
            body.append(
                f'<text class="continued" x="{TIME_WIDTH + 8}" y="{_num(top + HEADER_HEIGHT + 22)}">'
                "no messages</text>"
            )
        for row, event in enumerate(block):
            y = top + HEADER_HEIGHT + ROW_HEIGHT * row + ROW_HEIGHT / 2 + 4
            body.extend(_arrow(event, all_lanes, y, t0, right, lw))
        for first, last in _forks(block):
            body.extend(_fork(block[first : last + 1], first, all_lanes, top, lw))
        body.append("</g>")
        top += height
        shown += len(block)
        if number + 1 < len(blocks):
            body.append(
                f'<text class="continued" x="{MARGIN}" y="{_num(top + 16)}">'
                f"continued ({shown} of {len(ordered)} messages)</text>"
            )
            top += BLOCK_GAP
    transports = sorted({event.transport for event in ordered if event.transport})
    x = float(MARGIN)
    legend_y = top + 20
    if ordered:
        for kind, name in (("arrow", "request"), ("arrow response", "response")):
            body.append(
                f'<line class="{kind} legend" x1="{_num(x)}" y1="{_num(legend_y - 4)}" x2="{_num(x + 28)}" '
                f'y2="{_num(legend_y - 4)}" stroke="#444444"/>'
            )
            body.append(f'<text x="{_num(x + 34)}" y="{_num(legend_y)}">{name}</text>')
            x += 34 + CHAR_WIDTH * len(name) + 18
    for transport in transports:
        body.append(
            f'<rect class="legend" x="{_num(x)}" y="{_num(legend_y - 9)}" width="18" height="10" '
            f'fill="{transport_colour(transport)}"/>'
        )
        body.append(f'<text x="{_num(x + 24)}" y="{_num(legend_y)}">{_text(transport)}</text>')
        x += 24 + CHAR_WIDTH * len(transport) + 18
    height_total = top + (LEGEND_HEIGHT if ordered else 0) + MARGIN
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="{_num(width)}" '
        f'height="{_num(height_total)}" viewBox="0 0 {_num(width)} {_num(height_total)}" '
        f'role="img" aria-label={_attr(title or "ladder diagram")}>'
    )
    return "\n".join([head, f"<style>{_STYLE}</style>", *body, "</svg>"]) + "\n"


def _time(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("time must be a number or an ISO 8601 string")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise ValueError("time must be a number or an ISO 8601 string")


def _event(raw: Any, number: int) -> LadderEvent:
    if not isinstance(raw, dict):
        raise ValueError(f"event #{number} is not an object")
    try:
        return LadderEvent(
            time=_time(raw["time"]),
            src=str(raw["src"]),
            dst=str(raw["dst"]),
            label=str(raw["label"]),
            transport=str(raw.get("transport") or ""),
            note=str(raw.get("note") or ""),
        )
    except KeyError as exc:
        raise ValueError(f"event #{number} has no {exc.args[0]!r}") from exc


def load_ladder(path: str | Path) -> tuple[list[str], list[LadderEvent]]:
    """Read a ``*.ladder.json`` file: ``(lanes, events)``.

    Raises:
        ValueError: naming the file, when it is not valid JSON or not in the ladder input format.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        lanes: list[str] = []
        if isinstance(data, dict):
            lanes = [str(lane) for lane in data.get("lanes", [])]
            data = data.get("events")
        if not isinstance(data, list):
            raise ValueError("expected a list of events or {'lanes': [...], 'events': [...]}")
        return lanes, [_event(raw, number) for number, raw in enumerate(data, 1)]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
