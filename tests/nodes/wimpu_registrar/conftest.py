"""Fixtures of the wIMPU Registrar tests: a fake clock, a store and a started service on each
backend (an SQLite file, and a PostgreSQL database of the session's throwaway server:
``backend`` parametrises them), and a client that checks every response against the service's
own OpenAPI document."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jsonschema  # type: ignore[import-untyped]
import pytest
from registrar_db import sql
from yarl import URL

from reference.nodes.wimpu_registrar import ContactWrite, RegistrarService, Store

BACKENDS = ("sqlite", "postgresql")
"The store's backends every store, lease and service test runs on."

T0 = 1_700_000_000.0
IMPU = "sip:wrtc-0001@block1.ims.example.net"
WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"
EXTERNAL = "sip:bob@enterprise.com"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_contact() -> Callable[..., ContactWrite]:
    """Factory of valid contacts; keywords override fields."""

    def make(contact_id: str = "c1", **fields: Any) -> ContactWrite:
        values: dict[str, Any] = {
            "uri": f"sip:{contact_id}@df7jal23ls0d.invalid;transport=ws",
            "flow": f"flow-{contact_id}",
            "ep_cscf": "sip:pcscf1.ims.example.net",
            "expires": 3600,
            "instance_id": None,
            "reg_id": None,
            "path": ("<sip:flowtoken@iwf1.ims.example.net;lr;ob>",),
        }
        values.update(fields)
        return ContactWrite(contact_id=contact_id, **values)

    return make


def body(
    *,
    wimpu: str = WIMPU,
    allocated_by: str = "third-party",
    external_identity: str | None = None,
    **contact: Any,
) -> dict[str, Any]:
    """A valid W6 write body; keywords override contact fields."""
    c: dict[str, Any] = {
        "uri": "sip:a1@df7jal23ls0d.invalid;transport=ws",
        "flow": "flow-1",
        "instance_id": "<urn:uuid:00000000-0000-1000-8000-000000000001>",
        "reg_id": 1,
        "path": ["<sip:flowtoken@iwf1.ims.example.net;lr;ob>"],
        "ep_cscf": "sip:pcscf1.ims.example.net",
        "expires": 600,
    }
    c.update(contact)
    result: dict[str, Any] = {"wimpu": wimpu, "allocated_by": allocated_by, "contact": c}
    if external_identity is not None:
        result["external_identity"] = external_identity
    return result


def dump(db_path: str) -> list[tuple[Any, ...]]:
    """Every stored row of both tables, read through a separate connection."""
    entries, contacts = sql(
        db_path, "SELECT * FROM entries ORDER BY impu", "SELECT * FROM contacts ORDER BY impu, contact_id"
    )
    return [("entry", *row) for row in entries] + [("contact", *row) for row in contacts]


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    json: Any
    headers: Mapping[str, str]


class Api:
    """A W6/W7 client for tests that validates each response against the OpenAPI doc."""

    def __init__(self, session: aiohttp.ClientSession, service: RegistrarService) -> None:
        self.session = session
        self.service = service
        self.doc: dict[str, Any] = json.loads(
            (Path(__file__).parents[3] / "reference/nodes/wimpu_registrar/openapi.json").read_text(
                encoding="utf-8"
            )
        )
        self.checked = 0

    def schema(self, name: str) -> jsonschema.Draft202012Validator:
        """A validator for ``#/components/schemas/<name>`` of the document."""
        root = {"$ref": f"#/components/schemas/{name}", "components": self.doc["components"]}
        return jsonschema.Draft202012Validator(
            root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )

    async def call(
        self,
        method: str,
        template: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        documented: bool = True,
        **path: str,
    ) -> Reply:
        """Send ``method template`` with percent-encoded ``path`` values.

        With ``documented`` the status must be one the document lists for the operation
        and the body must match its schema.
        """
        encoded = template.format(**{k: quote(v, safe="") for k, v in path.items()})
        url = URL(self.service.base_url + encoded, encoded=True)
        if params:
            url = url.with_query(params)
        async with self.session.request(method, url, json=json_body, data=data, headers=headers) as response:
            raw = await response.read()
            ctype = response.content_type if raw else ""
            payload = json.loads(raw) if raw else None
            reply = Reply(response.status, ctype, payload, dict(response.headers))
        if documented:
            self._check(method, template, reply)
        return reply

    def _check(self, method: str, template: str, reply: Reply) -> None:
        operation = self.doc["paths"][template.split("?")[0]][method.lower()]
        responses = operation["responses"]
        assert str(reply.status) in responses, (
            f"{method} {template} answered {reply.status}, not in the OpenAPI document"
        )
        spec = responses[str(reply.status)]
        if "$ref" in spec:
            spec = self.doc["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
        if "content" not in spec:
            assert reply.json is None, "the document lists no body for this response"
            return
        assert reply.content_type in spec["content"], reply.content_type
        schema = spec["content"][reply.content_type]["schema"]
        root = dict(schema, components=self.doc["components"])
        jsonschema.validate(
            reply.json,
            root,
            cls=jsonschema.Draft202012Validator,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        self.checked += 1


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store's backend of the test: ``sqlite`` or ``postgresql``."""
    return str(request.param)


@pytest.fixture
def db_path(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's store is: a new SQLite file, or a new database of the session's
    PostgreSQL server (its URI)."""
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_dsn"))
    return str(tmp_path / "registrar.sqlite3")


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An open store: SQLite in memory, or a new PostgreSQL database."""
    s = Store(str(request.getfixturevalue("pg_dsn")) if backend == "postgresql" else ":memory:")
    yield s
    s.close()


@pytest.fixture
def w6_body() -> Callable[..., dict[str, Any]]:
    """:func:`body`, the factory of valid W6 write bodies."""
    return body


@pytest.fixture
def snapshot(db_path: str) -> Callable[[], list[tuple[Any, ...]]]:
    """Every stored row of the service's database (see :func:`dump`)."""
    return lambda: dump(db_path)


@pytest.fixture
async def service(db_path: str, clock: FakeClock) -> AsyncIterator[RegistrarService]:
    svc = RegistrarService(db_path=db_path, clock=clock, sweep_interval=3600)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


@pytest.fixture
async def api(service: RegistrarService) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, service)
