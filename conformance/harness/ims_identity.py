"""What the emulated HSS and S-CSCF compare and check, sans-I/O: public identities, wildcarded
IMPUs and SIP digest (:mod:`conformance.harness.ims_core` uses them).

Written here rather than taken from the reference (``reference.sip.identity``,
``reference.sip.digest``): the emulation must not share the logic of the reference
S-CSCF it stands in for, so a bug there is not the tester's too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Final

from reference.sip.address import parse_uri

__all__ = ["HASHES", "IdentityKey", "Wildcard", "auth_params", "digest", "identity_key"]

HASHES: Final = {"MD5": "md5", "SHA-256": "sha256"}
"Digest algorithms accepted (RFC 7616 3.4.2 names) -> hashlib names."
_AUTH_PARAM = re.compile(
    r"""\s*([A-Za-z0-9!%'*+._`~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)"""
)
_QUOTED_PAIR = re.compile(r"\\(.)")

IdentityKey = tuple[str, str, str, int | None]
"An identity as compared: scheme and host lower-case, user exact (unescaped), port."


# ----- identities (TS 23.003 13.4, 13.4A) ------------------------------------------------


def identity_key(uri: str) -> IdentityKey:
    """How two public identities compare (RFC 3261 19.1.4; tel: digits and ``+`` only).

    Raises:
        ValueError: ``uri`` is not a SIP, SIPS or tel URI.
    """
    parsed = parse_uri(uri.strip().strip("<>"))
    scheme = parsed.scheme.lower()
    if scheme == "tel":
        return scheme, re.sub(r"[-.()]", "", parsed.user or ""), "", None
    return scheme, parsed.user or "", parsed.host.lower(), parsed.port


@dataclasses.dataclass(frozen=True, slots=True)
class Wildcard:
    """A wildcarded IMPU compiled: fixed scheme, host and port; the user part a pattern."""

    scheme: str
    host: str
    port: int | None
    user: re.Pattern[str]

    @classmethod
    def compile(cls, text: str) -> Wildcard:
        """TS 23.003 13.4A: the expression sits between the first and the last ``!``."""
        head, _, rest = text.partition("!")
        expression, bang, tail = rest.rpartition("!")
        if not bang:
            raise ValueError(f"wildcarded IMPU {text!r} has no !expression!")
        scheme, _, prefix = head.partition(":")
        suffix, _, hostport = tail.partition("@") if scheme.lower() != "tel" else (tail, "", "")
        hostport = re.split(r"[;?]", hostport)[0]
        host, _, port = hostport.partition(":")
        pattern = re.compile(f"{re.escape(prefix)}(?:{expression}){re.escape(suffix)}")
        return cls(scheme.lower(), host.lower(), int(port) if port else None, pattern)

    def matches(self, key: IdentityKey) -> bool:
        scheme, user, host, port = key
        return (scheme, host, port) == (self.scheme, self.host, self.port) and bool(self.user.fullmatch(user))


# ----- digest (RFC 2617 3.2.2, RFC 7616 3.4.1) -----------------------------------------


def auth_params(text: str) -> dict[str, str]:
    """``auth-param *(COMMA auth-param)``; quoted strings may hold commas (RFC 7616 3.4).

    Raises:
        ValueError: something that is not ``name=token`` or ``name="quoted"``.
    """
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text.rstrip()):
        match = _AUTH_PARAM.match(text, pos)
        if match is None:
            raise ValueError(f"auth-params do not parse at {text[pos:]!r}")
        name, quoted, token = match.groups()
        params[name.lower()] = _QUOTED_PAIR.sub(r"\1", quoted) if quoted is not None else token
        pos = match.end()
    return params


def digest(algorithm: str, *, username: str, realm: str, password: str, method: str, uri: str,
           nonce: str, qop: str | None, nc: str | None, cnonce: str | None) -> str:  # fmt: skip
    """The expected ``response``: ``KD(HA1, nonce:nc:cnonce:qop:HA2)``, or
    ``KD(HA1, nonce:HA2)`` without qop (RFC 2069, kept by RFC 3261 22.4)."""
    name = HASHES[algorithm.upper()]

    def h(value: str) -> str:
        return hashlib.new(name, value.encode("utf-8")).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}")
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
