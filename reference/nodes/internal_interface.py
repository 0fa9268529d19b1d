"""The eP-CSCF's internal interface, IWF <-> P-CSCF, as frames on a stream (sans-I/O).

TR 23.701 5.2.2.2: "The eP-CSCF includes an Inter-Working-Function (IWF) and a P-CSCF
communicating through an internal interface [...] The IWF can communicate with any
P-CSCF since this is internal. [...] The IWFs can scale separately then the P-CSCFs."
Bundled, the interface is a method call (``reference.nodes.ep_cscf.bundled``); decomposed
(``reference.nodes.ep_cscf.decomposed``), it is this: one JSON object per line over TCP, at
most :data:`MAX_FRAME` bytes a line. The module belongs to neither node: the IWF
(``reference.nodes.iwf.routing``) and the P-CSCF (``reference.nodes.p_cscf.link``) both
import it, and neither imports the other. A block travels as the one block model,
:class:`reference.blocks.WimpuBlock`.

Frames (``op``)::

    hello        both ways, first: who is speaking; a P-CSCF says which blocks it can
                 serve and serves now, and the sent-by of its Via; an IWF lists its
                 open flows
    serving      P-CSCF -> IWF: the blocks it serves now (after a lease change)
    sip          both ways: one SIP message for or from a WIC's flow; from the IWF a
                 REGISTER carries the token-checked identity (5.2.2.5.2 step 4)
    flow-opened  IWF -> P-CSCF: a WIC's WebSocket opened
    flow-closed  IWF -> P-CSCF: it closed (its contacts are unreachable)
    close-flow   P-CSCF -> IWF: close that WIC's WebSocket (its block moved)

This project's design, not a 3GPP interface. A peer that sends anything else (not
JSON, unknown ``op``, missing field, a SIP message that does not parse, an oversized
line) has broken the interface: :class:`LinkError`, and the link is dropped.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final

from reference.blocks import Allocation, WimpuBlock
from reference.sip.errors import SipError
from reference.sip.identity import WildcardImpu
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message

__all__ = [
    "MAX_FRAME",
    "CloseFlow",
    "FlowClosed",
    "FlowOpened",
    "Frame",
    "FrameReader",
    "Hello",
    "LinkError",
    "Serving",
    "Sip",
    "encode",
]

MAX_FRAME: Final = 256 * 1024
"Longest frame (one line), in bytes."


class LinkError(Exception):
    """The peer broke the internal interface (garbage); the link must be dropped."""


@dataclasses.dataclass(frozen=True, slots=True)
class Hello:
    role: str
    "``iwf`` or ``p-cscf``."
    name: str
    identity: str
    via: str = ""
    "P-CSCF: ``host:port`` of its SIP node (the sent-by of its Via, the host of its Record-Route)."
    blocks: tuple[WimpuBlock, ...] = ()
    serving: tuple[str, ...] = ()
    flows: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Serving:
    serving: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Sip:
    flow: str
    message: Request | Response
    identity: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FlowOpened:
    flow: str


@dataclasses.dataclass(frozen=True, slots=True)
class FlowClosed:
    flow: str


@dataclasses.dataclass(frozen=True, slots=True)
class CloseFlow:
    flow: str
    reason: str = ""


Frame = Hello | Serving | Sip | FlowOpened | FlowClosed | CloseFlow


def encode(frame: Frame) -> bytes:
    """One frame as one line."""
    body: dict[str, Any]
    if isinstance(frame, Hello):
        body = {
            "op": "hello", "role": frame.role, "name": frame.name, "identity": frame.identity,
            "via": frame.via, "blocks": [_block_json(b) for b in frame.blocks],
            "serving": list(frame.serving), "flows": list(frame.flows),
        }  # fmt: skip
    elif isinstance(frame, Serving):
        body = {"op": "serving", "serving": list(frame.serving)}
    elif isinstance(frame, Sip):
        text = frame.message.to_bytes().decode("utf-8", "replace")
        body = {"op": "sip", "flow": frame.flow, "message": text}
        if frame.identity is not None:
            body["identity"] = frame.identity
    elif isinstance(frame, FlowOpened):
        body = {"op": "flow-opened", "flow": frame.flow}
    elif isinstance(frame, FlowClosed):
        body = {"op": "flow-closed", "flow": frame.flow}
    else:
        body = {"op": "close-flow", "flow": frame.flow, "reason": frame.reason}
    line = json.dumps(body, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_FRAME:
        raise ValueError(f"frame of {len(line)} bytes is larger than {MAX_FRAME}")
    return line


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise LinkError(f"frame {body.get('op')!r}: {key!r} must be a string")
    return value


def _strings(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LinkError(f"frame {body.get('op')!r}: {key!r} must be a list of strings")
    return tuple(value)


def _block_json(block: WimpuBlock) -> dict[str, Any]:
    """A block of a hello frame (TR 23.701 5.2.2.1 facts the IWF routes by)."""
    return {
        "wimpu": str(block.wimpu), "allocation": block.allocation.value,
        "external_domains": list(block.external_domains), "prefix": block.prefix, "name": block.name,
    }  # fmt: skip


def _block(value: Any) -> WimpuBlock:
    if not isinstance(value, dict):
        raise LinkError("hello: a block must be an object")
    try:
        return WimpuBlock(
            wimpu=WildcardImpu.parse(str(value["wimpu"])),
            allocation=Allocation(str(value["allocation"])),
            external_domains=tuple(str(d) for d in value.get("external_domains", [])),
            prefix=str(value.get("prefix", "wrtc-")),
            name=str(value.get("name", "block")),
        )
    except (KeyError, ValueError, TypeError, SipError) as exc:
        raise LinkError(f"hello: bad block {value!r}: {exc}") from None


def decode(line: bytes) -> Frame:
    """One line as a frame.

    Raises:
        LinkError: the line is not a valid frame.
    """
    try:
        body = json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise LinkError(f"not a JSON frame: {exc}: {line[:60]!r}") from None
    if not isinstance(body, dict):
        raise LinkError(f"not a JSON object: {line[:60]!r}")
    op = body.get("op")
    if op == "hello":
        blocks = body.get("blocks", [])
        if not isinstance(blocks, list):
            raise LinkError("hello: 'blocks' must be a list")
        return Hello(
            role=_str(body, "role"), name=_str(body, "name"), identity=_str(body, "identity"),
            via=str(body.get("via", "")), blocks=tuple(_block(b) for b in blocks),
            serving=_strings(body, "serving"), flows=_strings(body, "flows"),
        )  # fmt: skip
    if op == "serving":
        return Serving(_strings(body, "serving"))
    if op == "sip":
        try:
            message = parse_message(_str(body, "message").encode())
        except SipError as exc:
            raise LinkError(f"sip frame: the message does not parse: {exc}") from None
        identity = body.get("identity")
        if identity is not None and not isinstance(identity, str):
            raise LinkError("sip frame: 'identity' must be a string")
        return Sip(_str(body, "flow"), message, identity)
    if op == "flow-opened":
        return FlowOpened(_str(body, "flow"))
    if op == "flow-closed":
        return FlowClosed(_str(body, "flow"))
    if op == "close-flow":
        return CloseFlow(_str(body, "flow"), str(body.get("reason", "")))
    raise LinkError(f"unknown frame op {op!r}")


class FrameReader:
    """Bytes in, frames out (the h11 ``receive_data`` / ``next_event`` pattern)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max = max_frame

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more data arrives.

        Raises:
            LinkError: garbage, or a line longer than the limit.
        """
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > self._max:
                raise LinkError(f"a frame is longer than {self._max} bytes")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if len(line) > self._max:
            raise LinkError(f"a frame is longer than {self._max} bytes")
        return decode(line)
