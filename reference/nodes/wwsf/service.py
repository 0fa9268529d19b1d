"""The WWSF as an HTTPS service (TR 23.701 5.2.2.5.2 step 1, 5.2.2.2, 5.2.2.5.1).

::

    GET  /, /wic.html             the WIC page ("the browser downloads and initializes the WIC")
    GET  /wic.js                  the WIC script: JsSIP bundled at install time (``web/``)
    POST /login                   web authentication; issues the security token (step 1)
    GET  /.well-known/jwks.json   the public key eP-CSCFs verify tokens with (step 4)
    GET  /directory               each wIMPU block and the eP-CSCF serving it

"All blocks of wIMPU allocated to a third party are associated with a WWSF. Each block
of wIMPU allocated to a third party is associated with a different eP-CSCF that is
configured within the WWSF" (5.2.2.1), and "if an eP-CSCF fails then the wIMPU
associated with the failed eP-CSCF shall be re-allocated to another eP-CSCF" (5.2.2.2):
:meth:`WwsfService.set_block_ep_cscf` changes the directory at run time.

Errors are ``application/problem+json`` (RFC 9457). No password or token is logged.

Limits that protect legitimate users (issue 13 item 6, ``docs/security.md``):

- a malformed login (not UTF-8, not JSON, a lone surrogate, a user name over 256 or a
  password over 1024 bytes, a broken form) is answered 400 with the reason; a body over
  16 KiB 413; another media type 415; never 500;
- failed logins are throttled per source, per user and source, and per user
  (:mod:`reference.nodes.wwsf.throttle`, whose docstring says why the real user is not
  locked out): 429 with Retry-After, decided before any password is hashed;
- scrypt runs in a small thread pool of its own, and one source has at most one hash
  running at a time, so a flood from one address cannot queue ahead of other users;
- failed and throttled logins are logged through a :class:`~reference.logutil.RateLimitedLog`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import importlib.resources
import json
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from importlib.resources.abc import Traversable
from typing import Any

from aiohttp import web

from reference.blocks import WimpuBlock
from reference.logutil import RateLimitedLog
from reference.nodes.wimpu_registrar.model import LeaseState
from reference.nodes.wwsf.throttle import LoginThrottle, source_key
from reference.nodes.wwsf.tokens import Token, TokenIssuer
from reference.nodes.wwsf.users import User, UserStore, check_credentials
from reference.sip.errors import WildcardError
from reference.sip.identity import WildcardImpu
from reference.spec import clause
from reference.tls import TestPki

__all__ = ["DirectoryEntry", "EpCscf", "WwsfService"]

log = logging.getLogger("wimpu.wwsf")

_MAX_BODY = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1
_PAGE_HEADERS = {"X-Content-Type-Options": "nosniff"}
"Headers of the page and of its script; the page's CSP is :meth:`WwsfService.page_csp`."
_BUNDLE_MARK = b"<!--WIC-BUNDLE-->"
"Where the page gets its script tag, or the notice that the bundle was not built."
_BUNDLE_TAG = b'<script src="/wic.js" defer></script>'
_BUNDLE_MISSING = (
    b'<p id="bundle-missing" role="alert">The WIC bundle was not built: run '
    b"<code>bash scripts/install.sh</code> (it runs <code>npm ci</code> and <code>npm run build</code> "
    b"in reference/nodes/wwsf/web), then restart the WWSF.</p>"
)


@dataclasses.dataclass(frozen=True, slots=True)
class EpCscf:
    """An eP-CSCF as the WWSF knows it."""

    uri: str
    "The WSS URL the WIC connects to (step 2), e.g. ``wss://127.0.0.1:7443``."
    identity: str
    "The eP-CSCF's identity: the ``aud`` of tokens for the blocks it serves."

    @classmethod
    def of(cls, value: EpCscf | Mapping[str, str]) -> EpCscf:
        """Accept an instance or a ``{"uri", "identity"?}`` mapping (identity defaults to uri)."""
        if isinstance(value, EpCscf):
            return value
        return cls(uri=value["uri"], identity=value.get("identity", value["uri"]))

    def to_json(self) -> dict[str, str]:
        return {"uri": self.uri, "identity": self.identity}


@dataclasses.dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """A wIMPU block and the single eP-CSCF serving it at this time (5.2.2.1, 5.2.2.2)."""

    block: WimpuBlock
    "The block (``reference.blocks``): its wildcard and identity option."
    ep_cscf: EpCscf

    @classmethod
    def of(cls, value: DirectoryEntry | Mapping[str, Any]) -> DirectoryEntry:
        """Accept an instance or a ``{"wimpu", "option", "ep_cscf"}`` mapping (option A by
        default; ``external_domains`` and ``name`` optional).

        Raises:
            ValueError: an option other than A and B, or a wimpu that does not parse.
        """
        if isinstance(value, DirectoryEntry):
            return value
        option = value.get("option", "A")
        if option not in ("A", "B"):
            raise ValueError(f"block {value.get('wimpu')!r}: option must be 'A' or 'B'")
        block = WimpuBlock.parse(
            value["wimpu"], option, value.get("external_domains", ()), name=value.get("name", "block")
        )
        return cls(block=block, ep_cscf=EpCscf.of(value["ep_cscf"]))

    @property
    def wimpu(self) -> str:
        """The wildcarded IMPU as configured: the directory's key."""
        return str(self.block.wimpu)

    def to_json(self) -> dict[str, Any]:
        return {"wimpu": self.wimpu, "option": self.block.option, "ep_cscf": self.ep_cscf.to_json()}


class WwsfService:
    """The WWSF: HTTPS with a certificate from ``pki``, users, token issuer, directory.

    Args:
        pki: issues the server certificate (name ``cert_name``) for HTTPS.
        users: ``username -> {"password", "identity", "block"?}``; ``block`` names the
            wIMPU of the directory whose eP-CSCF the user is sent to (may be omitted
            when there is only one block).
        blocks: the directory, as :class:`DirectoryEntry` or mappings.
        host, port: where to listen; port 0 picks a free port at :meth:`start`.
        token_lifetime: seconds a token is valid.
        clock: POSIX time source for the token claims.
        signing_key_pem: the EC P-256 signing key; generated when omitted.
        origin: the public origin (the ``iss`` of tokens); by default ``https://host:port``.
        block_owners: with failover, reads the block leases of the wIMPU Registrar
            (``{"wimpu", "access": {"uri", "identity"} | None, ...}`` each) before every
            login and directory answer, so WICs are sent to the eP-CSCF serving their
            block now (5.2.2.2); None: the directory changes only by
            :meth:`set_block_ep_cscf`.
        throttle: the login throttle (default budgets of :class:`LoginThrottle`).
        hash_workers: threads that hash passwords (scrypt, about 50 ms and 16 MiB each).
        monotonic: the clock of the throttle and of the rate-limited log (injected in tests).
        wic_bundle: the built WIC script served as ``/wic.js``; by default ``web/dist/wic.js``
            of this package (``npm run build``, run by ``scripts/install.sh``). Missing: a
            warning, and the page says the bundle was not built.
    """

    def __init__(
        self,
        *,
        pki: TestPki,
        users: Mapping[str, Mapping[str, object]],
        blocks: Sequence[DirectoryEntry | Mapping[str, Any]],
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: int = 3600,
        clock: Callable[[], float] = time.time,
        signing_key_pem: bytes | None = None,
        origin: str | None = None,
        cert_name: str = "wwsf",
        block_owners: Callable[[], Awaitable[Sequence[LeaseState]]] | None = None,
        throttle: LoginThrottle | None = None,
        hash_workers: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
        wic_bundle: Traversable | None = None,
    ) -> None:
        self._pki = pki
        self._cert_name = cert_name
        self._host = host
        self._port = port
        self._fixed_origin = origin
        self._blocks: dict[str, DirectoryEntry] = {}
        for entry in blocks:
            block = DirectoryEntry.of(entry)
            if block.wimpu in self._blocks:
                raise ValueError(f"block {block.wimpu!r} is configured twice")
            self._blocks[block.wimpu] = block
        self._users = UserStore(users)
        for user in self._users.users():
            self._block_of(user)  # fail at start-up, not at the first login
        self._issuer = TokenIssuer(
            self._origin_or_empty(), lifetime=token_lifetime, clock=clock,
            signing_key_pem=signing_key_pem,
        )  # fmt: skip
        self._block_owners = block_owners
        self._owners_failing = False
        self._runner: web.AppRunner | None = None
        self.throttle = throttle or LoginThrottle()
        self._monotonic = monotonic
        self._hash_workers = hash_workers
        self._hasher: concurrent.futures.ThreadPoolExecutor | None = None
        self._hashing = _PerKeyLocks()
        self._login_log = RateLimitedLog(log, clock=monotonic)
        here = importlib.resources.files("reference.nodes.wwsf")
        self._bundle = _read_bundle(wic_bundle or here / "web" / "dist" / "wic.js")
        page = (here / "static" / "wic.html").read_bytes()
        self._page = page.replace(_BUNDLE_MARK, _BUNDLE_TAG if self._bundle is not None else _BUNDLE_MISSING)

    def __repr__(self) -> str:
        return f"WwsfService(origin={self._origin_or_empty()!r}, blocks={list(self._blocks)!r})"

    # -- properties -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port (the bound one once started)."""
        return self._port

    @property
    def origin(self) -> str:
        """The WWSF origin (RFC 6454), e.g. ``https://127.0.0.1:8443``; also the ``iss``."""
        origin = self._origin_or_empty()
        if not origin:
            raise RuntimeError("the WWSF origin is known once it listens: await start() first")
        return origin

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate clients must trust."""
        return self._pki.ca_pem

    def _origin_or_empty(self) -> str:
        if self._fixed_origin:
            return self._fixed_origin
        if self._port == 0:
            return ""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"https://{host}" if self._port == 443 else f"https://{host}:{self._port}"

    # -- tokens and directory ---------------------------------------------------------

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWK Set with the token signing key."""
        return self._issuer.jwks()

    def signing_key_pem(self) -> bytes:
        """The token signing key (PKCS#8 PEM): ``wimpu-ref up --pixit-out`` saves it for the tester."""
        return self._issuer.signing_key_pem()

    def issue_token(self, identity: str, audience: str) -> Token:
        """Issue a token for ``identity`` to the eP-CSCF ``audience`` without a login."""
        self._issuer.issuer = self.origin
        return self._issuer.issue(identity, audience)

    def directory(self) -> list[DirectoryEntry]:
        """The blocks and the eP-CSCF serving each one now."""
        return list(self._blocks.values())

    @clause("TR 23.701 5.2.2.2")
    def set_block_ep_cscf(self, wimpu: str, ep_cscf: EpCscf | Mapping[str, str]) -> None:
        """Re-allocate the block ``wimpu`` to another eP-CSCF (failover).

        Raises:
            KeyError: ``wimpu`` is not a configured block.
        """
        block = self._blocks[wimpu]
        new = EpCscf.of(ep_cscf)
        self._blocks[wimpu] = dataclasses.replace(block, ep_cscf=new)
        log.info("block %s re-allocated from %s to %s", wimpu, block.ep_cscf.uri, new.uri)

    @clause("TR 23.701 5.2.2.2")
    async def follow_block_owners(self) -> None:
        """Point each block at the eP-CSCF holding its lease, if leases are read: TR 23.701
        5.2.2.2 re-allocation, and 5.2.2.1 "associated with a different eP-CSCF that is
        configured within the WWSF".

        An unreachable registrar leaves the directory as it is (logged once per outage).
        """
        if self._block_owners is None:
            return
        try:
            leases = await self._block_owners()
        except Exception as exc:  # noqa: BLE001 - any failure of the source keeps the directory
            if not self._owners_failing:
                log.warning("WWSF: cannot read the block owners, directory unchanged: %s", exc)
            self._owners_failing = True
            return
        if self._owners_failing:
            log.info("WWSF: block owners readable again")
        self._owners_failing = False
        for lease in leases:
            if not lease.access:
                continue
            wimpu = self._configured_block(lease.wimpu)
            if wimpu is not None and self._blocks[wimpu].ep_cscf != EpCscf.of(lease.access):
                self.set_block_ep_cscf(wimpu, lease.access)

    def _configured_block(self, wimpu: str) -> str | None:
        """The configured block that ``wimpu`` (any spelling) names, if any."""
        if wimpu in self._blocks:
            return wimpu
        try:
            wanted = WildcardImpu.parse(wimpu)
            return next((w for w, e in self._blocks.items() if e.block.wimpu == wanted), None)
        except WildcardError:
            return None

    def _block_of(self, user: User) -> DirectoryEntry:
        if user.block is None:
            if len(self._blocks) != 1:
                raise ValueError(f"user {user.username!r} needs a 'block': there are several")
            return next(iter(self._blocks.values()))
        try:
            return self._blocks[user.block]
        except KeyError:
            raise ValueError(
                f"user {user.username!r}: block {user.block!r} is not in the directory"
            ) from None

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for HTTPS; afterwards :attr:`port` and :attr:`origin` are known."""
        if self._runner is not None:
            raise RuntimeError("the WWSF is already started")
        app = web.Application(client_max_size=_MAX_BODY)
        app.add_routes(
            [
                web.get("/", self._handle_page),
                web.get("/wic.html", self._handle_page),
                web.get("/wic.js", self._handle_bundle),
                web.post("/login", self._handle_login),
                web.get("/.well-known/jwks.json", self._handle_jwks),
                web.get("/directory", self._handle_directory),
            ]
        )
        runner = web.AppRunner(app, access_log=logging.getLogger("wimpu.wwsf.access"))
        await runner.setup()
        try:
            site = web.TCPSite(
                runner,
                self._host,
                self._port,
                ssl_context=self._pki.server_context(self._cert_name),
            )
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._hasher = concurrent.futures.ThreadPoolExecutor(
            self._hash_workers, thread_name_prefix="wwsf-scrypt"
        )
        self._port = int(runner.addresses[0][1])
        self._issuer.issuer = self.origin
        log.info("WWSF listening on %s", self.origin)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("WWSF stopped")
        hasher, self._hasher = self._hasher, None
        if hasher is not None:
            hasher.shutdown(wait=False, cancel_futures=True)
        self._login_log.flush()

    async def __aenter__(self) -> WwsfService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- handlers ---------------------------------------------------------------------

    def page_csp(self) -> str:
        """The page's Content-Security-Policy: scripts from this origin only (the bundle; no
        inline script), and connections to this origin (the login) and to the WSS origin of
        each eP-CSCF in the directory now (step 2), nothing else (``docs/security.md``)."""
        wss = sorted({o for o in (_ws_origin(b.ep_cscf.uri) for b in self._blocks.values()) if o})
        connect = " ".join(["'self'", *wss])
        return f"default-src 'self'; script-src 'self'; connect-src {connect}"

    async def _handle_page(self, request: web.Request) -> web.Response:
        await self.follow_block_owners()  # the CSP names the eP-CSCFs serving the blocks now
        headers = {**_PAGE_HEADERS, "Content-Security-Policy": self.page_csp()}
        return web.Response(body=self._page, content_type="text/html", charset="utf-8", headers=headers)

    async def _handle_bundle(self, request: web.Request) -> web.Response:
        if self._bundle is None:
            return _problem(404, "Not Found", "the WIC bundle was not built: run scripts/install.sh")
        return web.Response(
            body=self._bundle, content_type="text/javascript", charset="utf-8",
            headers={**_PAGE_HEADERS, "Cache-Control": "no-cache"},
        )  # fmt: skip

    async def _handle_jwks(self, request: web.Request) -> web.Response:
        return web.json_response(self.jwks(), headers={"Cache-Control": "max-age=300"})

    async def _handle_directory(self, request: web.Request) -> web.Response:
        await self.follow_block_owners()
        return web.json_response([block.to_json() for block in self.directory()])

    @clause("TR 23.701 5.2.2.5.2", steps=1)
    async def _handle_login(self, request: web.Request) -> web.Response:
        credentials = await _read_credentials(request)
        if isinstance(credentials, web.Response):
            return credentials
        username, password = credentials
        source = request.remote or "?"
        verdict = self.throttle.attempt(username, source, self._monotonic())
        if not verdict.allowed:
            del password
            self._login_log.log(
                logging.WARNING, ("throttled", source_key(source)), "login for user %r from %s throttled: %s",
                username[:64], source, verdict.reason,
            )  # fmt: skip
            return _problem(
                429, "Too Many Requests", f"{verdict.reason}; retry after {verdict.retry_after} s",
                headers={"Retry-After": str(verdict.retry_after)},
            )  # fmt: skip
        user = await self._authenticate(username, password, source)
        del password
        if user is None:
            self._login_log.log(
                logging.WARNING, ("failed", source_key(source)), "login failed for user %r from %s",
                username[:64], source,
            )  # fmt: skip
            return _problem(401, "Unauthorized", "unknown user name or wrong password")
        self.throttle.succeeded(username, source, self._monotonic())
        await self.follow_block_owners()
        block = self._block_of(user)
        token = self.issue_token(user.identity, block.ep_cscf.identity)
        log.info(
            "login succeeded for user %r from %s: %r for block %s",
            user.username, request.remote, token, block.wimpu,
        )  # fmt: skip
        body = {
            "token": token.value,
            "token_type": "Bearer",
            "expires_in": self._issuer.lifetime,
            "identity": user.identity,
            "wimpu": block.wimpu,
            "ep_cscf": block.ep_cscf.uri,
        }
        return web.json_response(body, headers=_NO_STORE)

    async def _authenticate(self, username: str, password: str, source: str) -> User | None:
        """scrypt in the WWSF's own thread pool, one hash at a time per source address, so the
        event loop and other users' logins do not wait behind one source's guesses."""
        if self._hasher is None:
            raise RuntimeError("the WWSF is not started")
        loop = asyncio.get_running_loop()
        async with self._hashing.hold(source_key(source)):
            return await loop.run_in_executor(self._hasher, self._users.authenticate, username, password)


def _read_bundle(path: Traversable) -> bytes | None:
    """The built WIC script, or None (logged) when ``npm run build`` has not run."""
    try:
        return path.read_bytes()
    except OSError:
        log.warning(
            "WWSF: the WIC bundle %s was not built (run scripts/install.sh); the page says so "
            "and cannot register",
            path,
        )
        return None


def _ws_origin(uri: str) -> str | None:
    """``wss://host:port`` of an eP-CSCF URL for the CSP, None if it is not a plain ws(s) URL
    (nothing from the configuration may widen the policy or break the header)."""
    try:
        url = urllib.parse.urlsplit(uri)
        port = url.port
    except ValueError:
        return None
    if url.scheme not in ("wss", "ws") or not url.hostname or any(c in uri for c in " ;,'\"\r\n"):
        return None
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    return f"{url.scheme}://{host}" + (f":{port}" if port is not None else "")


class _PerKeyLocks:
    """One :class:`asyncio.Lock` per key while someone holds or awaits it (bounded by use)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


_FORM_FIELDS = 16
"At most this many fields in a form login (only two are read)."


async def _read_credentials(request: web.Request) -> tuple[str, str] | web.Response:
    """``(username, password)`` from a JSON or form body, or an error response.

    Every malformed body is a 400 with the reason (never a 500): RFC 8259 8.1 JSON is
    UTF-8; a form is ``application/x-www-form-urlencoded`` (UTF-8, WHATWG URL 5.1) or
    ``multipart/form-data`` (RFC 7578). A body over the limit is 413 (aiohttp's
    ``client_max_size``), another media type 415.
    """
    fields: Mapping[str, Any]
    if request.content_type == "multipart/form-data":
        try:
            fields = await request.post()
        except web.HTTPException:
            raise
        except Exception:  # noqa: BLE001 - any parse failure of the client's body is the client's fault
            return _problem(400, "Bad Request", "the multipart body is malformed")
    elif request.content_type in ("application/json", "application/x-www-form-urlencoded"):
        try:
            text = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return _problem(400, "Bad Request", "the body is not UTF-8")
        if request.content_type == "application/json":
            try:
                data = json.loads(text)
            except (ValueError, RecursionError):
                return _problem(400, "Bad Request", "the body is not JSON")
            if not isinstance(data, dict):
                return _problem(400, "Bad Request", "the body must be a JSON object")
            fields = data
        else:
            try:
                pairs = urllib.parse.parse_qsl(
                    text, keep_blank_values=True, errors="strict", max_num_fields=_FORM_FIELDS
                )
            except (ValueError, UnicodeDecodeError):
                return _problem(400, "Bad Request", "the form is malformed (or not UTF-8)")
            fields = dict(pairs)
    else:
        return _problem(415, "Unsupported Media Type", "send JSON or a form")
    username, password = fields.get("username"), fields.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _problem(400, "Bad Request", "'username' and 'password' must be strings")
    reason = check_credentials(username, password)
    if reason is not None:
        return _problem(400, "Bad Request", reason)
    return username, password


def _problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    response = web.json_response(body, status=status, headers={**_NO_STORE, **(headers or {})})
    response.content_type = "application/problem+json"
    return response
