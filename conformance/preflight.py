"""Preflight: are the external nodes of a PIXIT there, and are they what the PIXIT says?

Run before any scenario starts (``wimpu-conformance check PIXIT``, ``wimpu-conformance run``, the
harness under ``pytest --sut``), for every node whose mode is ``external``:

- each address answers: a TCP connection for WSS, HTTPS, HTTP and SIP over TCP; for SIP over UDP an
  OPTIONS request and any SIP response to it;
- HTTPS and WSS certificates verify against the PIXIT's ``[trust] ca`` (host name included);
- an eP-CSCF completes a WebSocket opening handshake (RFC 6455 4) over that TLS connection, offered
  the ``sip`` subprotocol (RFC 7118 4) with the WWSF's origin as ``Origin`` (the check of TR 23.701
  5.2.2.5.2 step 2): it answers 101 and selects ``sip``; the connection is then closed with a close
  frame (1000). Without a ``[wwsf] url`` the origin is unknown and only TLS is checked;
- the wIMPU Registrar serves its OpenAPI document (``GET /openapi.json``);
- the WWSF serves its JWKS (``GET /.well-known/jwks.json``), holding the public half of the PIXIT's
  ``[wwsf] signing_key`` when one is given, and its directory (``GET /directory``) announces every
  ``[[block]]`` of the PIXIT, with the eP-CSCF the PIXIT gives it when that eP-CSCF is external too.

Every problem is one :class:`Problem` line naming the node, the address and what failed::

    PIXIT ep-cscf1 (wss://127.0.0.1:7443/): certificate does not verify: self-signed certificate
    PIXIT ep-cscf1 (wss://127.0.0.1:7443/): answered 403 Forbidden to the WebSocket upgrade (Origin https://...)

The addresses are checked in parallel (one thread each), with ``timeout`` seconds (2 by default) for
each connection or request. :func:`wait_until_ready` retries for processes just started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, WebSocketException
from websockets.typing import Origin, Subprotocol

from conformance.pixit import Node, Pixit, PixitError, SipAddress
from reference.sip.errors import WildcardError
from reference.sip.identity import IdentityError, WildcardImpu

__all__ = [
    "DEFAULT_TIMEOUT",
    "PreflightError",
    "Problem",
    "check",
    "check_async",
    "require_ready",
    "wait_until_ready",
]

DEFAULT_TIMEOUT = 2.0
"""Seconds for each connection, TLS handshake, HTTP request or SIP OPTIONS transaction (for an eP-CSCF:
its TLS and WebSocket handshakes together, then as long again for the closing handshake)."""

_USER_AGENT = "wimpu-conformance preflight"

_T1 = 0.5  # RFC 3261 timer T1: the OPTIONS over UDP is retransmitted after T1, 2*T1, ...


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an external node of a PIXIT."""

    node: str
    "The PIXIT's name of the node (``wwsf``, ``registrar``, ``i_cscf``, ``ep-cscf1``, ...) or ``trust``."
    address: str
    "The address that was checked (a URL, ``udp://host:port``) or the file that was read."
    what: str
    lasting: bool = False
    "Retrying will not help (a certificate that does not verify, a file that cannot be read)."

    def __str__(self) -> str:
        return f"PIXIT {self.node} ({self.address}): {self.what}"


class PreflightError(PixitError):
    """The external nodes of a PIXIT are not ready; one line per :class:`Problem`."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# ----- entry points ---------------------------------------------------------------------------------


def check(pixit: Pixit, *, timeout: float = DEFAULT_TIMEOUT, keylog: str | None = None) -> list[Problem]:
    """Check every external node of ``pixit`` once; the problems found (empty: ready).

    ``keylog``: an NSS key log file the checks' TLS clients append their secrets to, so that a capture
    of a SUT's start-up decodes them too (else ``verify`` reports them as ``tls-no-secrets``).
    """
    external = pixit.external()
    if not external:
        return []
    context = _trust_context(pixit, keylog)
    if isinstance(context, Problem):
        return [context]
    tasks: list[Callable[[], list[Problem]]] = []
    for node in external:
        if node.url is not None:
            own = _registrar_context(pixit, keylog) if node.role == "registrar" else context
            if isinstance(own, Problem):
                return [own]
            tasks.append(_bind(_check_url, pixit, node, node.url, own, timeout))
        if node.sip is not None:
            tasks.append(_bind(_check_sip, node, node.sip, timeout))
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="preflight") as pool:
        results = list(pool.map(lambda task: task(), tasks))
    return [problem for found in results for problem in found]


async def check_async(pixit: Pixit, *, each: float = DEFAULT_TIMEOUT) -> list[Problem]:
    """:func:`check` from a running event loop (the checks run in threads; ``each`` is its ``timeout``)."""
    return await asyncio.to_thread(check, pixit, timeout=each)


def wait_until_ready(
    pixit: Pixit,
    *,
    within: float,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.25,
    keylog: str | None = None,
) -> list[Problem]:
    """Check until every external node is ready or ``within`` seconds have passed.

    For processes just started: a refused connection or a WWSF directory still naming no eP-CSCF is
    retried; a problem retrying cannot fix (a certificate that does not verify) ends the wait at once.
    Returns the problems of the last check (empty: ready).
    """
    deadline = time.monotonic() + within
    while True:
        problems = check(pixit, timeout=timeout, keylog=keylog)
        if not problems or all(p.lasting for p in problems) or time.monotonic() + interval >= deadline:
            return problems
        time.sleep(interval)


def require_ready(
    pixit: Pixit, *, within: float = 0.0, timeout: float = DEFAULT_TIMEOUT, keylog: str | None = None
) -> None:
    """Raise :class:`PreflightError` unless every external node is ready (waiting up to ``within`` s;
    ``keylog`` as for :func:`check`)."""
    problems = wait_until_ready(pixit, within=within, timeout=timeout, keylog=keylog)
    if problems:
        raise PreflightError(problems)


# ----- trust ------------------------------------------------------------------------------------------


def _trust_context(pixit: Pixit, keylog: str | None = None) -> ssl.SSLContext | Problem:
    """A client context trusting exactly the PIXIT's CAs, with host name checking (its secrets
    appended to ``keylog`` if given)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if keylog is not None:
        context.keylog_filename = keylog
    for path in pixit.trust:
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError, ValueError) as exc:
            what = f"cannot load the CA certificate: {_reason(exc)}"
            return Problem("trust", str(path), what, lasting=True)
    return context


def _registrar_context(pixit: Pixit, keylog: str | None = None) -> ssl.SSLContext | Problem:
    """The trust context plus the suite's client certificate for the registrar (mutual TLS)."""
    context = _trust_context(pixit, keylog)
    if isinstance(context, Problem) or pixit.registrar_client is None:
        return context
    cert, key = pixit.registrar_client
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError, ValueError) as exc:
        what = f"cannot load the client certificate: {_reason(exc)}"
        return Problem("registrar", str(cert), what, lasting=True)
    return context


_CERTIFICATE_REFUSED = (
    "certificate required", "unknown ca", "bad certificate", "certificate unknown", "access denied",
    "handshake failure", "certificate_required", "unknown_ca",
    # TLS 1.3: the client's handshake is over before the server checks its certificate; the server's
    # alert then often arrives as a bare close of the connection
    "remote end closed connection", "connection reset", "eof occurred", "unexpected eof",
)  # fmt: skip
"Alert names (any case) a TLS server sends when it refuses the client's certificate (RFC 8446 6.2)."


def _certificate_refused(pixit: Pixit, error: str) -> str | None:
    """One line when the registrar refused the suite's client certificate (or wanted one), else None."""
    lowered = error.lower()
    if not error.startswith("GET https:") and " https://" not in error:
        return None
    which = (
        f"[registrar] client_cert {pixit.registrar_client[0]}"
        if pixit.registrar_client is not None
        else "none given: set [registrar] client_cert and client_key"
    )
    if any(alert in lowered for alert in _CERTIFICATE_REFUSED):
        return f"refused the suite's client certificate ({which}; mutual TLS): {error}"
    if " answered 403 " in error:
        return f"does not authorise the suite's client certificate ({which}): {error}"
    return None


# ----- URL nodes: WWSF, registrar, eP-CSCF (IWF) ------------------------------------------------------


def _bind(function: Callable[..., list[Problem]], *args: Any) -> Callable[[], list[Problem]]:
    return lambda: function(*args)


def _origin(pixit: Pixit) -> str | None:
    """The WWSF's origin (RFC 6454: scheme://host[:port]), the ``Origin`` of its pages' WebSockets."""
    url = pixit.nodes["wwsf"].url
    if url is None:
        return None  # a reference WWSF on a port the suite picks: its origin is not known yet
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _tls_problem(exc: OSError) -> tuple[str, bool]:
    """What failed in a TLS handshake, and whether it is lasting (a certificate that does not verify)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate does not verify: {exc.verify_message or _reason(exc)}", True
    return f"TLS handshake failed: {_reason(exc)}", False


def _check_url(pixit: Pixit, node: Node, url: str, context: ssl.SSLContext, timeout: float) -> list[Problem]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme in ("https", "wss")
    port = parts.port or (443 if secure else 80)

    def problem(what: str, lasting: bool = False) -> Problem:
        return Problem(node.name, url, what, lasting)

    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return [problem(f"does not answer: TCP connection to {host}:{port} failed: {_reason(exc)}")]
    with sock:
        origin = _origin(pixit)
        if node.role == "ep_cscf" and parts.scheme == "wss" and origin is not None:
            return [problem(*found) for found in _websocket_upgrade(url, sock, origin, context, timeout)]
        if secure:
            try:
                with context.wrap_socket(sock, server_hostname=host):
                    pass
            except OSError as exc:  # ssl.SSLError included
                return [problem(*_tls_problem(exc))]
    http = _Http(url, context if parts.scheme == "https" else None, timeout)
    if node.role == "registrar":
        found = _check_registrar(http)
        refused = [_certificate_refused(pixit, p) for p in found]
        return [problem(r, True) if r else problem(p) for p, r in zip(found, refused, strict=True)]
    if node.role == "wwsf":
        return [problem(p, lasting) for p, lasting in _check_wwsf(pixit, http)]
    return []


def _websocket_upgrade(
    url: str, sock: socket.socket, origin: str, context: ssl.SSLContext, timeout: float
) -> list[tuple[str, bool]]:
    """TLS over ``sock``, then the WebSocket opening handshake of a WIC (RFC 7118 4, TR 23.701
    5.2.2.5.2 step 2), then a clean close; the problems found, each with whether it is lasting.

    On websockets' asyncio client, in an event loop of this check's own thread. Its threaded client
    reads the TLS socket in one thread while it writes the upgrade request in another; OpenSSL's
    connection is not safe for that, and when a TLS 1.3 session ticket woke the reader just as the
    request was written, the request was sometimes lost (about one check in twenty on loopback): the
    server never answered, and a ready eP-CSCF was reported as not answering. asyncio drives TLS from a
    single thread.
    """
    return asyncio.run(_websocket_upgrade_async(url, sock, origin, context, timeout))


async def _websocket_upgrade_async(
    url: str, sock: socket.socket, origin: str, context: ssl.SSLContext, wait: float
) -> list[tuple[str, bool]]:
    """:func:`_websocket_upgrade` in the running event loop (``wait``: its ``timeout``)."""
    upgraded: list[bool] = []

    class Upgrading(ClientConnection):
        """Made by websockets before TLS; asyncio calls its ``connection_made`` once TLS is up, before
        the upgrade: tells a TLS failure from the rest."""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            upgraded.append(True)
            super().connection_made(transport)

    sock.setblocking(False)
    try:
        async with connect(
            url,
            sock=sock,
            ssl=context,
            origin=Origin(origin),
            subprotocols=[Subprotocol("sip")],
            user_agent_header=_USER_AGENT,
            open_timeout=wait,
            close_timeout=wait,
            ping_interval=None,
            create_connection=Upgrading,
        ) as websocket:
            if websocket.subprotocol != "sip":
                return [("did not select the 'sip' subprotocol (RFC 7118 4)", True)]
            return []
    except (OSError, WebSocketException, ValueError) as exc:
        if not upgraded and isinstance(exc, OSError):
            return [_tls_problem(exc)]
        status = exc if isinstance(exc, InvalidStatus) else exc.__cause__
        if isinstance(status, InvalidStatus):  # __cause__: a redirect, not followed over a given socket
            response = status.response
            answer = f"{response.status_code} {response.reason_phrase}".strip()
            return [(f"answered {answer} to the WebSocket upgrade (Origin {origin})", False)]
        if isinstance(exc, TimeoutError):
            return [(f"does not answer: no response to the WebSocket upgrade within {wait:g} s", False)]
        detail = _reason(exc)
        if isinstance(exc, InvalidHandshake) and exc.__cause__ is not None:
            detail = f"{detail} ({_reason(exc.__cause__)})"
        return [(f"WebSocket upgrade failed: {detail}", False)]


class _Http:
    """GET a JSON document below a base URL, with the PIXIT's trust."""

    def __init__(self, base: str, context: ssl.SSLContext | None, timeout: float) -> None:
        parts = urlsplit(base)
        self.base = base.rstrip("/")
        self.host = parts.hostname or ""
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.context = context
        self.timeout = timeout

    def get_json(self, path: str) -> tuple[Any, str | None]:
        """(document, None), or (None, why not) naming the URL."""
        url = f"{self.base}{path}"
        connection: http.client.HTTPConnection
        if self.context is not None:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.context
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("GET", self.prefix + path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            body = response.read(4 * 1024 * 1024)
        except (OSError, http.client.HTTPException) as exc:
            return None, f"GET {url} failed: {_reason(exc)}"
        finally:
            connection.close()
        if response.status != 200:
            return None, f"GET {url} answered {response.status} {response.reason}"
        try:
            return json.loads(body), None
        except ValueError:
            return None, f"GET {url} answered 200 but the body is not JSON"


def _check_registrar(http: _Http) -> list[str]:
    document, error = http.get_json("/openapi.json")
    if error is not None:
        return [f"does not serve its OpenAPI document: {error}"]
    if not isinstance(document, dict) or "openapi" not in document or "paths" not in document:
        return ["does not serve its OpenAPI document: /openapi.json has no 'openapi' and 'paths'"]
    return []


def _check_wwsf(pixit: Pixit, http: _Http) -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    jwks, error = http.get_json("/.well-known/jwks.json")
    if error is not None:
        found.append((f"does not serve its JWKS: {error}", False))
    elif not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        found.append(("does not serve its JWKS: /.well-known/jwks.json holds no 'keys'", False))
    elif pixit.wwsf_signing_key is not None:
        found += _check_signing_key(pixit.wwsf_signing_key, jwks["keys"])
    directory, error = http.get_json("/directory")
    if error is not None:
        found.append((f"does not serve its directory: {error}", False))
    else:
        found += [(p, False) for p in _check_directory(pixit, directory)]
    return found


def _check_signing_key(path: Path, keys: list[Any]) -> list[tuple[str, bool]]:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        return [(f"signing_key {path} is not an unencrypted PEM private key: {_reason(exc)}", True)]
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return [(f"signing_key {path} is not an EC key (the tokens are ES256)", True)]
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    for jwk in keys:
        if isinstance(jwk, dict) and (jwk.get("x"), jwk.get("y")) == (public["x"], public["y"]):
            return []
    return [(f"the JWKS does not hold the public key of signing_key {path} (a key of another run?)", False)]


def _same_wimpu(a: str, b: str) -> bool:
    try:
        return WildcardImpu.parse(a) == WildcardImpu.parse(b)
    except (WildcardError, IdentityError):
        return a == b


def _check_directory(pixit: Pixit, directory: Any) -> list[str]:
    if not isinstance(directory, list):
        return ["the directory (/directory) is not a JSON list of blocks"]
    entries = [e for e in directory if isinstance(e, dict) and isinstance(e.get("wimpu"), str)]
    found: list[str] = []
    for block in pixit.blocks:
        entry = next((e for e in entries if _same_wimpu(e["wimpu"], block.wimpu)), None)
        if entry is None:
            announced = ", ".join(e["wimpu"] for e in entries) or "nothing"
            found.append(f"the directory does not announce block {block.wimpu} (it announces {announced})")
            continue
        if entry.get("option") not in (None, block.option):
            found.append(f"the directory gives block {block.wimpu} option {entry.get('option')}, "
                         f"the PIXIT {block.option}")  # fmt: skip
        ep = pixit.nodes.get(block.ep_cscf)
        if ep is None or ep.mode != "external" or ep.url is None:
            continue  # the suite starts that eP-CSCF: the WWSF cannot know its address beforehand
        announced_ep = entry.get("ep_cscf")
        uri = announced_ep.get("uri") if isinstance(announced_ep, dict) else announced_ep
        if not isinstance(uri, str) or uri.rstrip("/") != ep.url.rstrip("/"):
            found.append(f"the directory sends block {block.wimpu} to {uri}, the PIXIT to {ep.name} {ep.url}")
        identity = announced_ep.get("identity") if isinstance(announced_ep, dict) else None
        if ep.identity is not None and identity is not None and identity != ep.identity:
            found.append(f"the directory gives {ep.name} the identity {identity}, the PIXIT {ep.identity}")
    return found


# ----- SIP nodes ----------------------------------------------------------------------------------------


def _check_sip(node: Node, address: SipAddress, timeout: float) -> list[Problem]:
    if address.transport == "tcp":
        try:
            with socket.create_connection((address.host, address.port), timeout=timeout):
                return []
        except OSError as exc:
            reason = f"TCP connection to {address.host}:{address.port} failed: {_reason(exc)}"
            return [Problem(node.name, str(address), f"does not answer: {reason}")]
    what = _sip_options_udp(address, timeout)
    return [] if what is None else [Problem(node.name, str(address), what)]


def _options(address: SipAddress, local: tuple[str, int]) -> tuple[bytes, str]:
    call_id = secrets.token_hex(12)
    host = f"[{address.host}]" if ":" in address.host else address.host
    lines = [
        f"OPTIONS sip:{host}:{address.port} SIP/2.0",
        f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK{secrets.token_hex(8)};rport",
        "Max-Forwards: 70",
        f"From: <sip:preflight@{local[0]}:{local[1]}>;tag={secrets.token_hex(4)}",
        f"To: <sip:{host}:{address.port}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        "Accept: application/sdp",
        "User-Agent: wimpu-conformance preflight",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), call_id


def _sip_options_udp(address: SipAddress, timeout: float) -> str | None:
    """None when any SIP response to an OPTIONS arrives within ``timeout``, else what happened."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((address.host, address.port))
            request, call_id = _options(address, sock.getsockname()[:2])
            deadline = time.monotonic() + timeout
            interval = _T1
            while (left := deadline - time.monotonic()) > 0:
                sock.send(request)
                resend = time.monotonic() + min(interval, left)
                interval *= 2
                while (wait := resend - time.monotonic()) > 0:
                    sock.settimeout(wait)
                    try:
                        data = sock.recv(65535)
                    except TimeoutError:
                        break
                    if data.startswith(b"SIP/2.0 ") and call_id.encode() in data:
                        return None
        except ConnectionRefusedError:
            return "does not answer: ICMP port unreachable for a SIP OPTIONS over UDP"
        except OSError as exc:
            return f"does not answer: SIP OPTIONS over UDP failed: {_reason(exc)}"
    return f"does not answer: no SIP response to an OPTIONS over UDP within {timeout:g} s"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__
