"""Keep secrets out of every report: JWTs, Bearer credentials and password values are replaced.

The steps never hand a secret to a reporter (tooling notes: allure-pytest-bdd records step arguments
with ``repr()``), but a log line, an assertion message or a SIP message in a failure can still carry
one. Every text the reports take from a run goes through :func:`redact`, and the plugin scrubs the
files the reporters wrote (:func:`scrub_file`, :func:`scrub_tree`) at the end of the run.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["REDACTED", "redact", "redact_in_place", "scrub_file", "scrub_tree"]

REDACTED = "<redacted>"

# a JWS/JWT in compact form, or any base64url-encoded JSON object ("eyJ" is '{"' encoded)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}")
# Authorization: Bearer <token> and Bearer access_token="<token>" (TS 24.371)
_BEARER = re.compile(r"(?i)(\bBearer\s+(?:access_token=)?\"?)([A-Za-z0-9._~+/=-]{8,})")
# password = "...", "password": "...", password='...', password=... (also passwd, secret, client_secret);
# a value without quotes ends at a quote or markup (it sits inside a JSON string or an XML text)
_PASSWORD = re.compile(
    r"(?i)((?:\\?[\"'])?\b(?:password|passwd|passphrase|secret|client_secret)(?:\\?[\"'])?\s*[:=]\s*)"
    r"(\\?[\"'])?((?(2)(?:(?!\2)[^\s,;}&)\]<>])+|[^\s,;}&)\]<>\"']+))"
)


def redact(text: str, marker: str = REDACTED) -> str:
    """``text`` with every JWT, Bearer credential and password value replaced by ``marker``."""
    text = _JWT.sub(marker, text)
    text = _BEARER.sub(lambda m: m.group(1) + marker, text)
    return _PASSWORD.sub(lambda m: m.group(1) + (m.group(2) or "") + marker, text)


def _mask(length: int) -> str:
    """A mask of exactly ``length`` characters: ``<redacted>`` stretched or cut to fit."""
    if length >= len(REDACTED):
        return REDACTED[:-1] + "-" * (length - len(REDACTED)) + ">"
    return "*" * length


def _mask_group(match: re.Match[str], group: int) -> str:
    start, end = match.span(group)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + _mask(end - start) + whole[end - offset :]


def redact_in_place(text: str) -> str:
    """``text`` with the same secrets as :func:`redact` masked, every character kept in its place.

    The result has exactly the length of ``text`` (``<redacted---->`` or ``****`` cover each secret),
    so it can replace bytes inside a framed structure (a packet of a capture, a SIP message with its
    Content-Length) without moving anything. Decode bytes as Latin-1 to keep one character per byte.
    """
    text = _JWT.sub(lambda m: _mask(len(m.group(0))), text)
    text = _BEARER.sub(lambda m: _mask_group(m, 2), text)
    return _PASSWORD.sub(lambda m: _mask_group(m, 3), text)


_BINARY = frozenset({".pcap", ".pcapng", ".png", ".jpg", ".jpeg", ".gif", ".zip", ".pdf", ".mp4", ".webm"})
_MARKUP = frozenset({".xml", ".html", ".htm", ".svg"})
"Files where the marker goes in escaped (``&lt;redacted&gt;``): a raw ``<`` in an attribute breaks XML."


def scrub_file(path: Path) -> bool:
    """Redact a text file in place; True when it changed.

    Binary files are left alone (known binary suffixes, bytes that are not UTF-8 or hold a NUL): a
    capture must not be rewritten with secrets of another length (it is masked in place when attached,
    ``reports.evidence.mask_capture``).
    """
    if path.suffix.lower() in _BINARY:
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    if "\x00" in text:
        return False
    clean = redact(text, "&lt;redacted&gt;" if path.suffix.lower() in _MARKUP else REDACTED)
    if clean == text:
        return False
    path.write_text(clean, encoding="utf-8")
    return True


def scrub_tree(root: Path) -> int:
    """Redact every text file under ``root``; the number of files that changed."""
    if not root.is_dir():
        return 0
    return sum(scrub_file(path) for path in sorted(root.rglob("*")) if path.is_file())
