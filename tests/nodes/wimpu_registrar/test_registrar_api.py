"""The W6/W7 HTTP API of the wIMPU Registrar, against a started service and a fake clock.

Every response goes through ``Api._check`` (conftest): its status must be listed in the
OpenAPI document for the operation, and its body must match the documented schema.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from registrar_db import set_schema_version

from conformance.harness.expect import wait_until_async
from reference.nodes.wimpu_registrar import SCHEMA_VERSION, RegistrarService, SchemaVersionError, Store, model
from reference.nodes.wimpu_registrar.service import MAX_BODY

IMPU = "sip:wrtc-0001@block1.ims.example.net"
IMPU2 = "sip:wrtc-0002@block1.ims.example.net"
WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"
EXTERNAL = "sip:bob@enterprise.com"
ENTRY = "/w6/v1/registrations/{impu}"
CONTACT = "/w6/v1/registrations/{impu}/contacts/{contact_id}"
BY_EXTERNAL = "/w6/v1/registrations"
STATUS = "/w7/v1/registration-status"

Body = Callable[..., dict[str, Any]]
Snapshot = Callable[[], list[tuple[Any, ...]]]


async def put(api: Any, body: dict[str, Any], impu: str = IMPU, cid: str = "c1") -> Any:
    return await api.call("PUT", CONTACT, impu=impu, contact_id=cid, json_body=body)


class TestStepSix:
    """TR 23.701 5.2.2.5.2 steps 5 and 6 over W6."""

    async def test_first_write_is_new_registration_201(self, api: Any, w6_body: Body) -> None:
        assert (await api.call("GET", ENTRY, impu=IMPU)).status == 404
        reply = await put(api, w6_body())
        assert reply.status == 201
        assert reply.json["outcome"] == "new-registration"
        entry = reply.json["entry"]
        assert entry["impu"] == IMPU and entry["wimpu"] == WIMPU
        assert entry["allocated_by"] == "third-party" and entry["external_identity"] is None
        (contact,) = entry["contacts"]
        assert contact["contact_id"] == "c1" and contact["expires"] == 600
        assert contact["expires_at"] == "2023-11-14T22:23:20.000Z"  # T0 + 600
        read = await api.call("GET", ENTRY, impu=IMPU)
        assert read.status == 200 and read.json == entry

    async def test_other_contact_is_new_contact_200(self, api: Any, w6_body: Body) -> None:
        await put(api, w6_body())
        reply = await put(api, w6_body(uri="sip:a2@x.invalid;transport=ws"), cid="c2")
        assert reply.status == 200 and reply.json["outcome"] == "new-contact"
        assert [c["contact_id"] for c in reply.json["entry"]["contacts"]] == ["c1", "c2"]

    async def test_same_contact_is_re_registration_200(self, api: Any, w6_body: Body, clock: Any) -> None:
        await put(api, w6_body())
        clock.advance(500)
        assert (await api.call("GET", ENTRY, impu=IMPU)).json["contacts"][0]["expires"] == 100
        reply = await put(api, w6_body(expires=600))
        assert reply.status == 200 and reply.json["outcome"] == "re-registration"
        assert reply.json["entry"]["contacts"][0]["expires"] == 600


class TestOptionB:
    async def test_lookup_by_external_identity(self, api: Any, w6_body: Body) -> None:
        reply = await put(api, w6_body(allocated_by="ep-cscf", external_identity=EXTERNAL))
        assert reply.status == 201
        found = await api.call("GET", BY_EXTERNAL, params={"external": EXTERNAL})
        assert found.status == 200 and found.json == reply.json["entry"]
        missing = await api.call("GET", BY_EXTERNAL, params={"external": "sip:x@enterprise.com"})
        assert missing.status == 404 and "sip:x@enterprise.com" in missing.json["detail"]

    async def test_external_identity_bound_elsewhere_is_409(
        self, api: Any, w6_body: Body, snapshot: Snapshot
    ) -> None:
        await put(api, w6_body(allocated_by="ep-cscf", external_identity=EXTERNAL))
        before = snapshot()
        reply = await put(api, w6_body(allocated_by="ep-cscf", external_identity=EXTERNAL), IMPU2)
        assert reply.status == 409 and reply.content_type == "application/problem+json"
        assert "already bound" in reply.json["detail"] and IMPU in reply.json["detail"]
        assert snapshot() == before

    async def test_other_block_for_registered_impu_is_409(
        self, api: Any, w6_body: Body, snapshot: Snapshot
    ) -> None:
        await put(api, w6_body())
        before = snapshot()
        reply = await put(api, w6_body(wimpu="sip:wrtc-![0-9]*!@block1.ims.example.net"), cid="c2")
        assert reply.status == 409 and "block" in reply.json["detail"]
        assert snapshot() == before


class TestW7:
    """TR 23.701 5.2.2.5.4 step 2."""

    async def test_status_by_impu_and_external_identity(self, api: Any, w6_body: Body) -> None:
        await put(api, w6_body(allocated_by="ep-cscf", external_identity=EXTERNAL))
        for identity in (IMPU, EXTERNAL):
            reply = await api.call("GET", STATUS, params={"identity": identity})
            assert reply.status == 200
            assert reply.json == {
                "identity": identity,
                "registered": True,
                "impu": IMPU,
                "wimpu": WIMPU,
                "external_identity": EXTERNAL,
            }

    async def test_the_identity_is_canonicalised_once_per_request(
        self, api: Any, w6_body: Body, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await put(api, w6_body())
        real, calls = model.canonical_identity, []
        monkeypatch.setattr(model, "canonical_identity", lambda value: calls.append(value) or real(value))
        spelled = "SIP:wrtc-0001@Block1.IMS.example.net;user=phone"
        reply = await api.call("GET", STATUS, params={"identity": spelled})
        assert reply.json["identity"] == IMPU and reply.json["registered"]
        assert calls == [spelled]  # by the service at the API edge; the Store trusts its answer

    async def test_unknown_identity_is_not_registered(self, api: Any) -> None:
        reply = await api.call("GET", STATUS, params={"identity": "tel:+441234567890"})
        assert reply.json == {
            "identity": "tel:+441234567890",
            "registered": False,
            "impu": None,
            "wimpu": None,
            "external_identity": None,
        }

    async def test_missing_or_repeated_parameter_is_400(self, api: Any) -> None:
        reply = await api.call("GET", STATUS)
        assert reply.status == 400 and reply.json["field"] == "identity"
        reply = await api.call("GET", STATUS + "?identity=sip:a@b&identity=sip:c@d")
        assert reply.status == 400 and "exactly once" in reply.json["detail"]
        reply = await api.call("GET", STATUS, params={"identity": IMPU, "x": "1"})
        assert reply.status == 400 and reply.json["field"] == "x"


class TestPercentEncoding:
    @pytest.mark.parametrize(
        ("impu", "wimpu", "cid", "canonical"),
        [
            (
                "sip:+441234567890;phone-context=ims.example.net@block1.example.net",
                "sip:!.*!@block1.example.net",
                "c/1+2",
                "sip:+441234567890;phone-context=ims.example.net@block1.example.net",
            ),
            (
                "sip:wrtc+1@Block1.ims.example.net;user=phone",
                "sip:wrtc!.*!@block1.ims.example.net",
                "<urn:uuid:1>;reg-id=1",
                "sip:wrtc+1@block1.ims.example.net",
            ),
            ("tel:+44-1234-567890", "tel:+44![0-9]{10}!", "sip:a@b;ob", "tel:+441234567890"),
        ],
    )
    async def test_identities_with_at_semicolon_plus_round_trip(
        self, api: Any, w6_body: Body, impu: str, wimpu: str, cid: str, canonical: str
    ) -> None:
        external = "sip:+44%201;x=y@enterprise.com"
        b = w6_body(wimpu=wimpu, allocated_by="ep-cscf", external_identity=external)
        reply = await put(api, b, impu, cid)
        assert reply.status == 201 and reply.json["entry"]["impu"] == canonical
        assert reply.json["entry"]["wimpu"] == wimpu
        assert reply.json["entry"]["contacts"][0]["contact_id"] == cid
        assert (await api.call("GET", ENTRY, impu=impu)).json["impu"] == canonical
        assert (await api.call("GET", ENTRY, impu=canonical)).json["impu"] == canonical
        found = await api.call("GET", BY_EXTERNAL, params={"external": external})
        assert found.json["external_identity"] == external
        status = await api.call("GET", STATUS, params={"identity": impu})
        assert status.json["registered"]
        assert (await api.call("DELETE", CONTACT, impu=impu, contact_id=cid)).status == 200

    async def test_unencoded_plus_in_query_is_explained(self, api: Any) -> None:
        reply = await api.call("GET", STATUS + "?identity=tel:+441234")
        assert reply.status == 400 and "%2B" in reply.json["detail"]


class TestExpiry:
    async def test_expired_contacts_are_never_returned_before_a_sweep(
        self, api: Any, w6_body: Body, clock: Any, service: RegistrarService
    ) -> None:
        await put(api, w6_body(allocated_by="ep-cscf", external_identity=EXTERNAL, expires=10))
        clock.advance(10)
        assert (await api.call("GET", ENTRY, impu=IMPU)).status == 404
        assert (await api.call("GET", BY_EXTERNAL, params={"external": EXTERNAL})).status == 404
        status = await api.call("GET", STATUS, params={"identity": EXTERNAL})
        assert status.json["registered"] is False
        assert service.store.counts() == (1, 1)  # not swept yet

    async def test_background_sweep_removes_expired(
        self, db_path: str, clock: Any, w6_body: Body, snapshot: Snapshot
    ) -> None:
        svc = RegistrarService(db_path=db_path, clock=clock, sweep_interval=0.01)
        await svc.start()
        try:
            async with aiohttp.ClientSession() as session:
                url = f"{svc.base_url}/w6/v1/registrations/{quote(IMPU, safe='')}/contacts/c1"
                async with session.put(url, json=w6_body(expires=5)) as response:
                    assert response.status == 201
            assert snapshot() != []
            clock.advance(5)
            await wait_until_async(lambda: snapshot() == [], "the sweep removing the expired contact")
        finally:
            await svc.stop()


class TestDeregistration:
    async def test_contact_then_entry_removed(self, api: Any, w6_body: Body) -> None:
        await put(api, w6_body())
        await put(api, w6_body(), cid="c2")
        reply = await api.call("DELETE", CONTACT, impu=IMPU, contact_id="c1")
        assert reply.status == 200
        assert [c["contact_id"] for c in reply.json["entry"]["contacts"]] == ["c2"]
        reply = await api.call("DELETE", CONTACT, impu=IMPU, contact_id="c2")
        assert reply.status == 200 and reply.json == {"entry": None}
        assert (await api.call("GET", ENTRY, impu=IMPU)).status == 404
        assert (await api.call("DELETE", CONTACT, impu=IMPU, contact_id="c2")).status == 404

    async def test_delete_entry_removes_all_contacts(
        self, api: Any, w6_body: Body, snapshot: Snapshot
    ) -> None:
        await put(api, w6_body())
        await put(api, w6_body(), cid="c2")
        reply = await api.call("DELETE", ENTRY, impu=IMPU)
        assert reply.status == 204 and reply.json is None
        assert snapshot() == []
        assert (await api.call("DELETE", ENTRY, impu=IMPU)).status == 404


def _raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


BAD_BODIES: list[tuple[str, Callable[[dict[str, Any]], bytes], str, int, str]] = [
    # (id, make raw body from a valid one, content type, status, field or detail text)
    ("bad-json", lambda b: b"{", "application/json", 400, "not valid JSON"),
    ("not-utf8", lambda b: b'{"wimpu": "\xff"}', "application/json", 400, "UTF-8"),
    ("nan", lambda b: _raw(b).replace(b"900", b"NaN"), "application/json", 400, "NaN"),
    (
        "duplicate",
        lambda b: b'{"wimpu": "sip:a@b", "wimpu": "sip:c@d"}',
        "application/json",
        400,
        "duplicate",
    ),
    ("not-object", lambda b: b"[]", "application/json", 400, "JSON object"),
    ("unknown", lambda b: _raw({**b, "extra": 1}), "application/json", 400, "extra"),
    (
        "unknown-contact",
        lambda b: _raw({**b, "contact": {**b["contact"], "q": 0.5}}),
        "application/json",
        400,
        "contact.q",
    ),
    (
        "missing",
        lambda b: _raw({k: v for k, v in b.items() if k != "contact"}),
        "application/json",
        400,
        "contact",
    ),
    ("bad-wimpu", lambda b: _raw({**b, "wimpu": "block1"}), "application/json", 400, "wimpu"),
    (
        "negative",
        lambda b: _raw({**b, "contact": {**b["contact"], "expires": -5}}),
        "application/json",
        400,
        "contact.expires",
    ),
    ("text", lambda b: _raw(b), "text/plain", 415, "application/json"),
    ("latin1", lambda b: _raw(b), "application/json; charset=latin-1", 415, "UTF-8"),
    ("too-large", lambda b: _raw({**b, "pad": "x" * MAX_BODY}), "application/json", 413, "limit"),
]


class TestBadInput:
    """A bad request gets the right problem and leaves the store unchanged."""

    @pytest.mark.parametrize(
        ("make", "ctype", "status", "expected"),
        [pytest.param(*case[1:], id=case[0]) for case in BAD_BODIES],
    )
    async def test_bad_write_is_refused_and_store_unchanged(
        self,
        api: Any,
        w6_body: Body,
        snapshot: Snapshot,
        caplog: pytest.LogCaptureFixture,
        make: Callable[[dict[str, Any]], bytes],
        ctype: str,
        status: int,
        expected: str,
    ) -> None:
        await put(api, w6_body())
        before = snapshot()
        caplog.set_level(logging.INFO, logger="wimpu.registrar")
        raw = make(w6_body(expires=900))
        reply = await api.call(
            "PUT", CONTACT, impu=IMPU, contact_id="c1", data=raw, headers={"Content-Type": ctype}
        )
        assert reply.status == status
        assert reply.content_type == "application/problem+json"
        assert reply.json["status"] == status
        assert expected in reply.json["detail"] or expected == reply.json.get("field")
        assert snapshot() == before
        assert any(
            f"-> {status}" in r.getMessage() and reply.json["detail"] in r.getMessage()
            for r in caplog.records
        )
        if status == 400 and ctype == "application/json":
            try:
                document = json.loads(raw)
            except ValueError:
                return
            # The OpenAPI request schema refuses the same body.
            assert not api.schema("RegistrationWrite").is_valid(document)

    async def test_missing_content_type_is_415(self, api: Any, snapshot: Snapshot) -> None:
        reply = await api.call("PUT", CONTACT, impu=IMPU, contact_id="c1", data=b"{}")
        assert reply.status == 415 and snapshot() == []

    async def test_chunked_body_over_limit_is_413(self, api: Any, w6_body: Body, snapshot: Snapshot) -> None:
        async def chunks() -> Any:
            for _ in range(MAX_BODY // 1024 + 2):
                yield b" " * 1024
            yield _raw(w6_body())

        reply = await api.call(
            "PUT",
            CONTACT,
            impu=IMPU,
            contact_id="c1",
            data=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert reply.status == 413 and snapshot() == []

    @pytest.mark.parametrize(
        ("method", "template", "field"),
        [("GET", ENTRY, "impu"), ("DELETE", ENTRY, "impu"), ("PUT", CONTACT, "impu")],
    )
    async def test_bad_identity_in_path_is_400(
        self, api: Any, w6_body: Body, method: str, template: str, field: str
    ) -> None:
        reply = await api.call(
            method, template, impu="alice@example.com", contact_id="c1", json_body=w6_body()
        )
        assert reply.status == 400 and reply.json["field"] == field
        assert "alice@example.com" in reply.json["detail"]

    async def test_unknown_route_and_method_are_problems(self, api: Any) -> None:
        reply = await api.call("GET", "/w6/v2/nothing", documented=False)
        assert reply.status == 404 and reply.content_type == "application/problem+json"
        reply = await api.call("POST", ENTRY, impu=IMPU, documented=False)
        assert reply.status == 405 and "Allow" in reply.headers


class TestService:
    async def test_write_is_durable_across_restart(self, db_path: str, clock: Any, w6_body: Body) -> None:
        first = RegistrarService(db_path=db_path, clock=clock, sweep_interval=3600)
        await first.start()
        async with aiohttp.ClientSession() as session:
            url = f"{first.base_url}/w6/v1/registrations/{quote(IMPU, safe='')}/contacts/c1"
            async with session.put(url, json=w6_body()) as response:
                written = (await response.json())["entry"]
            await first.stop()
            await first.stop()  # idempotent
            second = RegistrarService(db_path=db_path, clock=clock, sweep_interval=3600)
            await second.start()
            try:
                url = f"{second.base_url}/w6/v1/registrations/{quote(IMPU, safe='')}"
                async with session.get(url) as r:
                    assert r.status == 200 and await r.json() == written
            finally:
                await second.stop()

    async def test_other_schema_version_fails_to_start(self, db_path: str) -> None:
        Store(db_path).close()
        set_schema_version(db_path, 99)
        svc = RegistrarService(db_path=db_path)
        with pytest.raises(SchemaVersionError, match="schema version 99"):
            await svc.start()
        await svc.stop()

    async def test_health_and_openapi(self, api: Any) -> None:
        health = await api.call("GET", "/health")
        assert health.json == {"status": "ok", "schema_version": SCHEMA_VERSION}
        doc = await api.call("GET", "/openapi.json")
        assert doc.json == api.doc

    async def test_requests_are_logged(
        self, api: Any, w6_body: Body, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="wimpu.registrar")
        await put(api, w6_body())
        await api.call("GET", ENTRY, impu=IMPU2)
        lines = [r.getMessage() for r in caplog.records if r.name == "wimpu.registrar"]
        assert any("PUT" in line and "-> 201 new-registration" in line for line in lines)
        assert any("-> 404" in line and f"IMPU {IMPU2} is not registered" in line for line in lines)
