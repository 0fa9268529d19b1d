"""The wIMPU Registrar as an HTTP/JSON service: the W6 and W7 reference points.

TR 23.701 5.2.2.4 names W6 (eP-CSCF to wIMPU Registrar) and W7 (I-CSCF to wIMPU
Registrar) and says they "shall be standardized"; 3GPP never did. The HTTP/JSON API
here is this project's proposal, described by ``openapi.json`` in this package and
served at ``GET /openapi.json``.

Routes::

    GET    /w6/v1/registrations/{impu}                       read an entry
    GET    /w6/v1/registrations?external={identity}          read by external identity
    PUT    /w6/v1/registrations/{impu}/contacts/{contact_id} store a contact (step 6)
    DELETE /w6/v1/registrations/{impu}/contacts/{contact_id} de-register a contact
    DELETE /w6/v1/registrations/{impu}                       de-register every contact
    GET    /w7/v1/registration-status?identity={identity}    registration status
    GET    /w6/v1/blocks[/{wimpu}/lease|/{wimpu}/registrations] block leases (failover),
    PUT    /w6/v1/blocks/{wimpu}/lease, DELETE ...?holder=H      see ``lease_api``
    GET    /openapi.json, GET /health

Every route needs mutual TLS (TS 33.501 13.1) when the service is given a ``tls`` context:
the client certificate, of the stack's CA, names the calling node, and :mod:`.access`
decides what that node may do (403 with a problem document otherwise). Without ``tls``
the service speaks plain HTTP with no authorisation: unit tests of the API only.

Path values are percent-encoded identities (``sip%3Aalice%40example.com``). Errors are
RFC 9457 problem documents (``application/problem+json``). The service reads its clock
once per request and hands that time to the clock-free :class:`Store`; a background task
sweeps expired registrations every ``sweep_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib.resources
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from reference.logutil import Lazy
from reference.spec import clause
from reference.tls import peer_node

from .access import AccessPolicy, Grant, Operation
from .backends import check_location, read_password_file
from .lease_api import LeaseRoutes, lease_problem_members
from .leases import LeaseHeldError
from .model import (
    Entry,
    NotFoundError,
    Outcome,
    PayloadTooLarge,
    RegistrarError,
    RegistrationStatus,
    SweepResult,
    UnsupportedMediaType,
    ValidationError,
    check_contact_id,
    check_identity,
    parse_registration_write,
)
from .store import SCHEMA_VERSION, Store

__all__ = ["LOG", "MAX_BODY", "RegistrarService", "entry_json", "status_json"]

LOG: Final = logging.getLogger("wimpu.registrar")
MAX_BODY: Final = 64 * 1024
"Largest request body accepted, in bytes; a larger one gets 413."
PROBLEM_JSON: Final = "application/problem+json"

_NOTE: Final = web.RequestKey("note", str)
"What a handler did, for the request's log line."
_GRANT: Final = web.RequestKey("grant", Grant)
"Who called, from the client certificate (with ``tls`` only)."

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _iso(epoch: float) -> str:
    stamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_json(entry: Entry, now: float) -> dict[str, object]:
    """The JSON form of an entry; ``expires`` is the remaining time in whole seconds."""
    return {
        "impu": entry.impu,
        "wimpu": entry.wimpu,
        "external_identity": entry.external_identity,
        "allocated_by": entry.allocated_by.value,
        "contacts": [
            {
                "contact_id": c.contact_id,
                "uri": c.uri,
                "flow": c.flow,
                "instance_id": c.instance_id,
                "reg_id": c.reg_id,
                "path": list(c.path),
                "ep_cscf": c.ep_cscf,
                # Live means expires_at > now, so rounding up never shows 0.
                "expires": c.expires_in(now),
                "expires_at": _iso(c.expires_at),
            }
            for c in entry.contacts
        ],
    }


def status_json(status: RegistrationStatus) -> dict[str, object]:
    """The JSON form of a W7 answer."""
    return {
        "identity": status.identity,
        "registered": status.registered,
        "impu": status.impu,
        "wimpu": status.wimpu,
        "external_identity": status.external_identity,
    }


def _problem(
    status: int, title: str, detail: str, field: str | None = None, extra: dict[str, object] | None = None
) -> web.Response:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if field:
        body["field"] = field
    body.update(extra or {})
    return web.json_response(body, status=status, content_type=PROBLEM_JSON)


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _query(request: web.Request, name: str) -> str:
    """The single query parameter ``name``; any other parameter is refused."""
    unknown = sorted(set(request.query) - {name})
    if unknown:
        raise ValidationError(unknown[0], f"unknown query parameter {unknown[0]!r}")
    values = request.query.getall(name, [])
    if len(values) != 1:
        raise ValidationError(name, f"query parameter {name!r} is required exactly once")
    return values[0]


class RegistrarService:
    """The wIMPU Registrar HTTP service: a :class:`Store` behind the W6/W7 API."""

    def __init__(
        self,
        *,
        db_path: str,
        db_password_file: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        sweep_interval: float = 1.0,
        tls: ssl.SSLContext | None = None,
        access: AccessPolicy | None = None,
    ) -> None:
        """Prepare the service; nothing is opened or bound until :meth:`start`.

        Args:
            db_path: where the registrations are: a SQLite file (created if absent), or a
                ``postgresql://`` URI of a database several registrars may share
                (:mod:`.backends`).
            db_password_file: a file holding the PostgreSQL password (read at :meth:`start`);
                None: libpq's ``PGPASSWORD`` or ``PGPASSFILE`` if needed.
            host: the address to bind.
            port: the port to bind; 0 picks a free one (see :attr:`port`).
            clock: the time source, seconds since the epoch (a fake one in tests).
            sweep_interval: seconds between two sweeps of expired registrations.
            tls: a server context requiring client certificates
                (:meth:`reference.tls.TestPki.mtls_server_context`): HTTPS with mutual TLS.
                None: plain HTTP, no authorisation (unit tests of the API only).
            access: who may do what (required with ``tls``).
        """
        if not sweep_interval > 0:
            raise ValueError(f"sweep_interval must be positive, got {sweep_interval}")
        if (tls is None) != (access is None):
            raise ValueError("mutual TLS (tls) and the access policy (access) go together")
        if tls is not None and tls.verify_mode != ssl.CERT_REQUIRED:
            raise ValueError("the registrar's TLS context must require client certificates")
        self.tls = tls
        self.access = access
        check_location(db_path)
        self.db_path = db_path
        self.db_password_file = db_password_file
        self.host = host
        self._port = port
        self._clock = clock
        self._requests: dict[str, int] = {}
        self._sweep_interval = sweep_interval
        self._store: Store | None = None
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._held: asyncio.Event | None = None
        "Set while :meth:`hold` keeps requests unanswered; released by :meth:`release`."
        self._openapi = importlib.resources.files(__package__).joinpath("openapi.json").read_bytes()
        self.app = self._make_app()

    # -- life cycle ---------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._middleware])
        w6 = "/w6/v1/registrations"
        app.router.add_get(w6 + "/{impu}", self._read, allow_head=False)
        app.router.add_get(w6, self._read_by_external, allow_head=False)
        app.router.add_put(w6 + "/{impu}/contacts/{contact_id}", self._put_contact)
        app.router.add_delete(w6 + "/{impu}/contacts/{contact_id}", self._delete_contact)
        app.router.add_delete(w6 + "/{impu}", self._delete_entry)
        app.router.add_get("/w7/v1/registration-status", self._status, allow_head=False)
        LeaseRoutes(
            lambda: self.store, lambda: self._clock(), self._json_body, entry_json, self._authorise_block
        ).add_to(app)
        app.router.add_get("/openapi.json", self._openapi_doc, allow_head=False)
        app.router.add_get("/health", self._health, allow_head=False)
        return app

    async def start(self) -> None:
        """Open the database, bind the socket and start the sweeper.

        Raises:
            SchemaVersionError: the database is not usable by this version.
            StoreUnavailable: the PostgreSQL database cannot be reached or refuses the
                credentials.
            ValueError: the password file cannot be read.
            OSError: the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("the registrar service is already started")
        password = None if self.db_password_file is None else read_password_file(self.db_password_file)
        self._store = Store(self.db_path, password=password)
        runner = web.AppRunner(self.app, access_log=None)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self._port, ssl_context=self.tls)
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._store.close()
            self._store = None
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        extended = self._store.extend_leases(self._clock())
        if extended:
            LOG.info("restart grace: %d block lease(s) extended by their duration", extended)
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="wimpu-registrar-sweep")
        LOG.info(
            "wIMPU Registrar listening on %s (%s database %s)",
            self.base_url,
            self._store.backend,
            self._store.location,
        )

    async def stop(self) -> None:
        """Stop serving, stop the sweeper and close the database; idempotent."""
        self.release()  # a held request is answered (or fails) now, not at the shutdown timeout
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            LOG.info("wIMPU Registrar stopped")
        if self._store is not None:
            self._store.close()
            self._store = None

    def hold(self) -> None:
        """Stop answering, as a registrar that hangs would: from now on every request is read (the
        TLS handshake and the HTTP request complete) and then held, unanswered, until
        :meth:`release`. Fault injection for the suite's in-process runs (TP_WIMPU_REG_013: the
        eP-CSCF must not accept a registration the registrar has not stored); reached by no API."""
        if self._held is None:
            self._held = asyncio.Event()
            LOG.warning("wIMPU Registrar holding every request unanswered (fault injection)")

    def release(self) -> None:
        """Answer again: the requests :meth:`hold` kept go on, in order, and new ones are served."""
        held, self._held = self._held, None
        if held is not None:
            held.set()
            LOG.warning("wIMPU Registrar answering again")

    @property
    def port(self) -> int:
        """The bound port (the chosen one when constructed with port 0)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``https://host:port`` of the running service (``http://`` without TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self._port}"

    @property
    def store(self) -> Store:
        """The open store (only while started)."""
        if self._store is None:
            raise RuntimeError("the registrar service is not started")
        return self._store

    @clause("TR 23.701 5.2.2.3.1")
    def sweep(self) -> SweepResult:
        """Remove the registrations whose timer has expired, now (registration expiry)."""
        result = self.store.sweep(self._clock())
        if result.contacts or result.entries:
            LOG.info(
                "sweep removed %d expired contact(s) and %d entr(y/ies)",
                result.contacts,
                result.entries,
            )
        return result

    def requests_by_route(self) -> dict[str, int]:
        """How many requests each API (``w6``, ``w7``, ...) received: for system tests."""
        return dict(self._requests)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                self.sweep()
            except Exception:  # keep sweeping; a transient SQLite error is not fatal
                LOG.exception("sweep of expired registrations failed")

    # -- plumbing -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Turn every error into a problem document and log each request once."""
        if self._held is not None:
            await self._held.wait()
        area = request.path.strip("/").split("/", 1)[0]
        self._requests[area] = self._requests.get(area, 0) + 1
        note = ""
        try:
            if self.access is not None:
                transport = request.transport
                peer = transport.get_extra_info("peercert") if transport is not None else None
                request[_GRANT] = self.access.caller(peer_node(peer))
            response = await handler(request)
            note = request.get(_NOTE, "")
        except RegistrarError as exc:
            field = exc.field if isinstance(exc, ValidationError) else None
            extra = lease_problem_members(exc) if isinstance(exc, LeaseHeldError) else None
            response = _problem(exc.status, exc.title, str(exc), field, extra)
            note = str(exc)
        except web.HTTPException as exc:
            note = _http_detail(request, exc)
            response = _problem(exc.status, exc.reason, note)
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception as exc:
            LOG.exception("%s %s failed", request.method, request.path)
            note = f"internal error: {type(exc).__name__}"
            response = _problem(500, "Internal Server Error", "the registrar failed: " + note)
        # The access log: formatted by the handler, nothing built here when INFO is off.
        LOG.info("%s %s -> %d %s", request.method, Lazy(_log_target, request), response.status, note)
        return response

    def _grant(self, request: web.Request) -> Grant | None:
        return request[_GRANT] if self.access is not None else None

    def _authorise_impu(self, request: web.Request, operation: Operation, impu: str) -> None:
        grant = self._grant(request)
        if self.access is not None and grant is not None:
            self.access.authorise_impu(grant, operation, impu)

    def _authorise_block(
        self, request: web.Request, operation: Operation, wimpu: str | None, holder: str | None = None
    ) -> None:
        """For :class:`LeaseRoutes`: ``operation`` on block ``wimpu`` (None: every block)."""
        grant = self._grant(request)
        if self.access is None or grant is None:
            return
        if wimpu is None:
            self.access.authorise(grant, operation)
        else:
            self.access.authorise_block(grant, operation, wimpu, holder)

    async def _json_body(self, request: web.Request) -> object:
        """The request body as JSON: 415, 413 and 400 checks, in that order."""
        if request.content_type != "application/json":
            raise UnsupportedMediaType(
                f"the request body must be application/json, not {request.content_type}"
            )
        if request.charset not in (None, "utf-8", "UTF-8"):
            raise UnsupportedMediaType(f"the request body must be UTF-8, not {request.charset}")
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise PayloadTooLarge(
                f"the request body has {request.content_length} bytes, more than the limit of {MAX_BODY}"
            )
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise PayloadTooLarge(f"the request body is larger than the limit of {MAX_BODY} bytes") from None
        try:
            return json.loads(
                raw.decode("utf-8"),
                object_pairs_hook=_reject_duplicates,
                parse_constant=_reject_constant,
            )
        except UnicodeDecodeError:
            raise ValidationError("", "the request body is not valid UTF-8") from None
        except (ValueError, RecursionError) as exc:
            raise ValidationError("", f"the request body is not valid JSON: {exc}") from None

    # -- W6 -----------------------------------------------------------------------------

    @clause("TR 23.701 5.2.2.5.2", steps=5)
    @clause("TR 23.701 5.2.2.5.4", steps=4)
    async def _read(self, request: web.Request) -> web.Response:
        """W6 read: the registration status and contacts of an individual IMPU."""
        now = self._clock()
        impu = check_identity(request.match_info["impu"], "impu")
        if request.query:
            raise ValidationError(next(iter(request.query)), "no query parameter is allowed")
        self._authorise_impu(request, Operation.W6_READ, impu)
        entry = self.store.read(impu, now)
        if entry is None:
            raise NotFoundError(f"IMPU {impu} is not registered")
        return web.json_response(entry_json(entry, now))

    @clause("TR 23.701 5.2.2.5.3", steps=2, option="option B")
    async def _read_by_external(self, request: web.Request) -> web.Response:
        """W6 read by external identity (option B): the IMPU bound to it, and contacts."""
        now = self._clock()
        external = check_identity(_query(request, "external"), "external")
        grant = self._grant(request)
        if self.access is not None and grant is not None:
            self.access.authorise(grant, Operation.W6_READ)
        entry = self.store.read_by_external(external, now)
        if entry is None:
            raise NotFoundError(f"no registered IMPU is bound to external identity {external}")
        if self.access is not None and grant is not None:
            self.access.authorise_entry(grant, entry.wimpu)
        return web.json_response(entry_json(entry, now))

    @clause("TR 23.701 5.2.2.5.2", steps=6)
    async def _put_contact(self, request: web.Request) -> web.Response:
        """W6 write: store a contact; 201 for a new registration, else 200."""
        impu = check_identity(request.match_info["impu"], "impu")
        contact_id = check_contact_id(request.match_info["contact_id"])
        grant = self._grant(request)
        if self.access is not None and grant is not None:  # 403 before the body is even read
            self.access.authorise_impu(grant, Operation.W6_WRITE, impu)
        write = parse_registration_write(await self._json_body(request), contact_id)
        if self.access is not None and grant is not None:
            self.access.authorise_write(
                grant, impu, write.wimpu, write.external_identity, write.contact.ep_cscf
            )
        now = self._clock()
        entry, outcome = self.store.upsert_contact(
            impu, write.wimpu, write.allocated_by, write.external_identity, write.contact, now
        )
        request[_NOTE] = outcome.value
        return web.json_response(
            {"outcome": outcome.value, "entry": entry_json(entry, now)},
            status=201 if outcome is Outcome.NEW_REGISTRATION else 200,
        )

    @clause("TR 23.701 5.2.2.3.1")
    async def _delete_contact(self, request: web.Request) -> web.Response:
        """W6 de-registration of one contact; the entry goes with its last contact."""
        now = self._clock()
        impu = check_identity(request.match_info["impu"], "impu")
        contact_id = check_contact_id(request.match_info["contact_id"])
        self._authorise_impu(request, Operation.W6_REMOVE, impu)
        flow = _query(request, "flow") if request.query else None
        entry = self.store.remove_contact(impu, contact_id, now, flow=flow)
        request[_NOTE] = "entry removed" if entry is None else "contact removed"
        return web.json_response({"entry": None if entry is None else entry_json(entry, now)})

    @clause("TR 23.701 5.2.2.3.1")
    async def _delete_entry(self, request: web.Request) -> web.Response:
        """W6 de-registration of every contact (``Contact: *``): the entry is removed."""
        now = self._clock()
        impu = check_identity(request.match_info["impu"], "impu")
        self._authorise_impu(request, Operation.W6_REMOVE, impu)
        removed = self.store.remove_entry(impu, now)
        request[_NOTE] = f"entry removed with {len(removed.contacts)} contact(s)"
        return web.Response(status=204)

    # -- W7 -----------------------------------------------------------------------------

    @clause("TR 23.701 5.2.2.5.4", steps=2)
    async def _status(self, request: web.Request) -> web.Response:
        """W7: is the called identity registered; its IMPU and wIMPU if so."""
        now = self._clock()
        identity = check_identity(_query(request, "identity"), "identity")
        self._authorise_impu(request, Operation.W7_STATUS, identity)
        status = self.store.status(identity, now)
        request[_NOTE] = "registered" if status.registered else "not registered"
        return web.json_response(status_json(status))

    # -- documents ----------------------------------------------------------------------

    async def _openapi_doc(self, request: web.Request) -> web.Response:
        return web.Response(body=self._openapi, content_type="application/json")

    async def _health(self, request: web.Request) -> web.Response:
        self.store.counts()  # proves the database answers
        return web.json_response({"status": "ok", "schema_version": SCHEMA_VERSION})


def _log_target(request: web.Request) -> str:
    """The request's path, its query string and the calling node, for the access log line:
    ``/w7/v1/registration-status?identity=sip:... [i-cscf]``."""
    query = f"?{request.query_string}" if request.query_string else ""
    grant = request.get(_GRANT)
    who = f" [{grant.node}]" if grant is not None else ""
    return f"{request.path}{query}{who}"


def _http_detail(request: web.Request, exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPNotFound):
        return f"no route for {request.method} {request.path}"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"method {request.method} is not allowed on {request.path} (allowed: {allowed})"
    return exc.text or exc.reason
