"""Flow tokens: the names an IWF gives its WebSocket flows (sans-I/O).

RFC 5626 5.2: an edge proxy that Record-Routes or Paths itself with a flow token "MUST
make it not guessable" and, where the token travels outside the proxy, SHOULD protect
its integrity: "the proxy can ... use a message authentication code (MAC) ... to
protect the integrity of the flow token". A flow token here is

    <IWF name>.<flow id>.<MAC>

where the MAC is HMAC-SHA-256 over ``<IWF name>.<flow id>`` with a key of 32 random
bytes drawn when the IWF starts, cut to 128 bits. A token is honoured only if its MAC
verifies: a WIC or a core node that writes a flow token of its own choosing (to reach
another WIC's WebSocket through the eP-CSCF's Record-Route) names no flow, and so does
a token stored in the durable wIMPU Registrar by an earlier run of the same eP-CSCF
(its key is gone). Tokens are never compared with ``==`` on the MAC but with
:func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["FlowTokens"]

MAC_HEX = 32
"Hex digits of the MAC kept in a token (128 bits)."


class FlowTokens:
    """Mints and verifies the flow tokens of one IWF."""

    def __init__(self, name: str, key: bytes | None = None) -> None:
        if "." in name or not name:
            raise ValueError(f"IWF name {name!r} must be non-empty and contain no '.'")
        self.name = name
        self._key = key if key is not None else secrets.token_bytes(32)

    def __repr__(self) -> str:  # never show the key
        return f"FlowTokens({self.name!r})"

    def _mac(self, flow_id: int) -> str:
        message = f"{self.name}.{flow_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:MAC_HEX]

    def mint(self, flow_id: int) -> str:
        """The token of flow ``flow_id``."""
        return f"{self.name}.{flow_id}.{self._mac(flow_id)}"

    def flow_id(self, token: str) -> int | None:
        """The flow a token names, or None if it is not a genuine token of this IWF."""
        name, _, rest = token.partition(".")
        number, _, mac = rest.partition(".")
        if name != self.name or not number.isdigit() or len(number) > 20 or len(mac) != MAC_HEX:
            return None
        flow_id = int(number)
        return flow_id if hmac.compare_digest(mac, self._mac(flow_id)) else None
