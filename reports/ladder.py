"""Ladder (sequence) diagrams of a message flow as standalone SVG, like Wireshark's flow view or sngrep.

Input: events (time, source lane, destination lane, label, transport, optional note) and an ordered lane
list. Output: one SVG document with a lane (lifeline) per node, one arrow per event with its label above
and its transport below, the time (seconds from the first event) at the left, the note at the right, and
a colour per transport. A long flow wraps vertically: every ``rows_per_block`` events a new block starts
with the lane headers repeated.

Pure string building, no external library; every text is XML-escaped and the output is deterministic
(the same input gives the same bytes). ``load_ladder`` reads the ``*.ladder.json`` files the capture
decoder writes: either a list of events, or ``{"lanes": [...], "events": [...]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

__all__ = ["LadderEvent", "load_ladder", "render_svg", "transport_colour"]

LANE_WIDTH = 200
TIME_WIDTH = 78
NOTE_WIDTH = 220
HEADER_HEIGHT = 44
ROW_HEIGHT = 36
BLOCK_GAP = 28
MARGIN = 12
LEGEND_HEIGHT = 30
CHAR_WIDTH = 6.6  # average width of one character of the 11px label font, for truncation

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


@dataclass(frozen=True)
class LadderEvent:
    """One message: ``src`` sends ``label`` to ``dst`` at ``time`` (seconds) over ``transport``."""

    time: float
    src: str
    dst: str
    label: str
    transport: str = ""
    note: str = ""


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


def _lanes(lanes: Sequence[str], events: Sequence[LadderEvent]) -> list[str]:
    """The given lanes in order, then any lane an event names that the list lacks, in order of use."""
    result = list(dict.fromkeys(lanes))
    for event in events:
        for lane in (event.src, event.dst):
            if lane not in result:
                result.append(lane)
    return result


def _header(lanes: Sequence[str], top: float, height: float) -> list[str]:
    out = []
    for index, lane in enumerate(lanes):
        x = TIME_WIDTH + LANE_WIDTH * index + LANE_WIDTH / 2
        out.append(
            f'<line class="lifeline" x1="{_num(x)}" y1="{_num(top + HEADER_HEIGHT - 8)}" x2="{_num(x)}" '
            f'y2="{_num(top + height)}"/>'
        )
        out.append(
            f'<rect class="lane" x="{_num(x - LANE_WIDTH / 2 + 8)}" y="{_num(top + 4)}" '
            f'width="{LANE_WIDTH - 16}" height="{HEADER_HEIGHT - 12}" rx="4"/>'
        )
        out.append(
            f'<text class="lane-name" x="{_num(x)}" y="{_num(top + 24)}" text-anchor="middle">'
            f"<title>{_text(lane)}</title>{_text(_clip(lane, LANE_WIDTH - 24))}</text>"
        )
    return out


def _arrow(event: LadderEvent, lanes: Sequence[str], y: float, t0: float, right: float) -> list[str]:
    colour = transport_colour(event.transport)
    i, j = lanes.index(event.src), lanes.index(event.dst)
    x1 = TIME_WIDTH + LANE_WIDTH * i + LANE_WIDTH / 2
    x2 = TIME_WIDTH + LANE_WIDTH * j + LANE_WIDTH / 2
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
            f'<path class="arrow" d="M{_num(x1)},{_num(y - 6)} h{loop} v12 h-{loop - 7}" fill="none" '
            f'stroke="{colour}"/>'
        )
        out.append(
            f'<polygon class="head" points="{_num(x1)},{_num(y + 6)} {_num(x1 + 8)},{_num(y + 2)} '
            f'{_num(x1 + 8)},{_num(y + 10)}" fill="{colour}"/>'
        )
        lx, anchor, span = x1 + loop + 6, "start", float(LANE_WIDTH - loop - 10)
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
            f'<line class="arrow" x1="{_num(x1)}" y1="{_num(y)}" x2="{_num(tip - direction * 8)}" '
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


_STYLE = (
    "text{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:11px;fill:#222}"
    ".lane{fill:#eef2f7;stroke:#7a8aa0}.lane-name{font-weight:bold;font-size:12px}"
    ".lifeline{stroke:#9aa7b8;stroke-dasharray:4 3}.arrow{stroke-width:1.6}"
    ".label,.transport{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
    ".time{fill:#555}.transport{font-size:9px;fill:#666}.note{font-style:italic;fill:#666}"
    ".continued{fill:#888;font-style:italic}.title{font-weight:bold;font-size:12px}"
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
    right = TIME_WIDTH + LANE_WIDTH * len(all_lanes)
    width = right + (NOTE_WIDTH if has_notes else 0) + MARGIN
    blocks = [ordered[i : i + rows_per_block] for i in range(0, len(ordered), rows_per_block)] or [[]]
    top = MARGIN + (22 if title or t0 > 1e8 else 0)
    body: list[str] = []
    if title or t0 > 1e8:
        start = ""
        if t0 > 1e8:  # absolute times: say when the flow started
            start = datetime.fromtimestamp(t0, UTC).strftime("start %Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
        caption = "  \N{EM DASH}  ".join(part for part in (title, start) if part)
        body.append(f'<text class="title" x="{MARGIN}" y="{MARGIN + 12}">{_text(caption)}</text>')
    for number, block in enumerate(blocks):
        height = HEADER_HEIGHT + ROW_HEIGHT * max(len(block), 1) + 8
        body.append(f'<g class="block" data-block="{number + 1}">')
        body.extend(_header(all_lanes, top, height))
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
            body.extend(_arrow(event, all_lanes, y, t0, right))
        body.append("</g>")
        top += height
        if number + 1 < len(blocks):
            body.append(
                f'<text class="continued" x="{MARGIN}" y="{_num(top + 16)}">'
                f"continued ({(number + 1) * rows_per_block} of {len(ordered)} messages)</text>"
            )
            top += BLOCK_GAP
    transports = sorted({event.transport for event in ordered if event.transport})
    x = float(MARGIN)
    legend_y = top + 20
    for transport in transports:
        body.append(
            f'<rect class="legend" x="{_num(x)}" y="{_num(legend_y - 9)}" width="18" height="10" '
            f'fill="{transport_colour(transport)}"/>'
        )
        body.append(f'<text x="{_num(x + 24)}" y="{_num(legend_y)}">{_text(transport)}</text>')
        x += 24 + CHAR_WIDTH * len(transport) + 18
    height_total = top + (LEGEND_HEIGHT if transports else 0) + MARGIN
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
