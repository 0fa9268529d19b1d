"""Validation of W6 input by the wIMPU Registrar model (pure functions)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from reference.nodes.wimpu_registrar import model
from reference.nodes.wimpu_registrar.model import (
    MAX_EXPIRES,
    AllocatedBy,
    CanonicalIdentity,
    Contact,
    Entry,
    RegistrationStatus,
    ValidationError,
    check_identity,
    check_in_block,
    check_wimpu,
    parse_registration_write,
    same_block,
)
from reference.nodes.wimpu_registrar.service import entry_json, status_json

Body = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    ("identity", "canonical"),
    [
        ("sip:alice@example.com", "sip:alice@example.com"),
        ("SIPS:Alice@Example.COM", "sips:Alice@example.com"),
        ("sip:wrtc+1@block1.ims.example.net;user=phone", "sip:wrtc+1@block1.ims.example.net"),
        ("<sip:bob@enterprise.com>", "sip:bob@enterprise.com"),
        ("tel:+44-1234-567890", "tel:+441234567890"),
    ],
)
def test_identity_is_checked_and_made_canonical(identity: str, canonical: str) -> None:
    assert check_identity(identity, "impu") == canonical


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        ("alice@example.com", "not a sip:, sips: or tel: URI"),
        ("http://example.com", "not a sip:, sips: or tel: URI"),
        ("sip:", "sip"),
        ("sip:example.com", "user"),
        ("tel:7042;phone-context=example.com", "local number"),
        ("tel:+44 1234", "whitespace"),
        ("", "1 to 512 characters"),
        ("sip:" + "a" * 600, "1 to 512 characters"),
        (42, "must be a string"),
    ],
)
def test_identity_refuses_what_is_not_a_public_user_identity(identity: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as info:
        check_identity(identity, "impu")
    assert info.value.field == "impu"
    assert str(info.value).startswith("impu: ")


def test_a_checked_identity_is_taken_back_without_a_second_canonicalisation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked = check_identity("SIP:Alice@Example.COM;user=phone", "impu")
    assert type(checked) is CanonicalIdentity and checked == "sip:Alice@example.com"
    calls: list[str] = []
    monkeypatch.setattr(model, "canonical_identity", lambda value: calls.append(value) or value)
    assert check_identity(checked, "identity") is checked and calls == []
    assert check_identity(str(checked), "identity") == checked and calls == [checked]  # a plain str


def test_the_whitespace_check_refuses_what_str_isspace_calls_whitespace() -> None:
    every = "".join(map(chr, range(0x110000)))
    assert set(model._WHITESPACE.findall(every)) == {c for c in every if c.isspace()}


def test_wimpu_must_be_a_safe_wildcard() -> None:
    assert check_wimpu("sip:wrtc-!.*!@block1.ims.example.net").startswith("sip:wrtc-")
    for bad in ("sip:wrtc-1@block1.ims.example.net", "sip:a!(a+)+!@b.example.net"):
        with pytest.raises(ValidationError) as info:
            check_wimpu(bad)
        assert info.value.field == "wimpu"


def test_impu_must_belong_to_its_block() -> None:
    check_in_block("sip:wrtc-7@block1.ims.example.net", "sip:wrtc-!.*!@block1.ims.example.net")
    with pytest.raises(ValidationError, match="does not belong to the block") as info:
        check_in_block("sip:wrtc-7@block2.ims.example.net", "sip:wrtc-!.*!@block1.ims.example.net")
    assert info.value.field == "impu"


def test_blocks_compare_parsed() -> None:
    assert same_block("sip:w-!.*!@B1.example.net", "sip:w-!.*!@b1.example.net")
    assert not same_block("sip:w-!.*!@b1.example.net", "sip:w-![0-9]*!@b1.example.net")


def test_valid_body_is_parsed(w6_body: Body) -> None:
    write = parse_registration_write(
        w6_body(allocated_by="ep-cscf", external_identity="sip:bob@enterprise.com"), "c1"
    )
    assert write.allocated_by is AllocatedBy.EP_CSCF
    assert write.contact.contact_id == "c1" and write.contact.reg_id == 1
    assert write.contact.path == ("<sip:flowtoken@iwf1.ims.example.net;lr;ob>",)


def _without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: [b], ""),
        (lambda b: {**b, "colour": "red"}, "colour"),
        (lambda b: {**b, "contact": {**b["contact"], "q": 1}}, "contact.q"),
        (lambda b: _without(b, "wimpu"), "wimpu"),
        (lambda b: {**b, "contact": _without(b["contact"], "expires")}, "contact.expires"),
        (lambda b: {**b, "wimpu": "block1"}, "wimpu"),
        (lambda b: {**b, "allocated_by": "wwsf"}, "allocated_by"),
        (lambda b: {**b, "allocated_by": "ep-cscf"}, "external_identity"),
        (lambda b: {**b, "external_identity": "sip:bob@enterprise.com"}, "external_identity"),
        (lambda b: {**b, "contact": {**b["contact"], "expires": -1}}, "contact.expires"),
        (lambda b: {**b, "contact": {**b["contact"], "expires": 0}}, "contact.expires"),
        (
            lambda b: {**b, "contact": {**b["contact"], "expires": MAX_EXPIRES + 1}},
            "contact.expires",
        ),
        (lambda b: {**b, "contact": {**b["contact"], "expires": True}}, "contact.expires"),
        (lambda b: {**b, "contact": {**b["contact"], "expires": "60"}}, "contact.expires"),
        (lambda b: {**b, "contact": {**b["contact"], "reg_id": 0}}, "contact.reg_id"),
        (lambda b: {**b, "contact": {**b["contact"], "path": "x"}}, "contact.path"),
        (lambda b: {**b, "contact": {**b["contact"], "path": [1]}}, "contact.path[0]"),
        (lambda b: {**b, "contact": {**b["contact"], "path": ["x"] * 17}}, "contact.path"),
        (lambda b: {**b, "contact": {**b["contact"], "uri": ""}}, "contact.uri"),
        (lambda b: {**b, "contact": {**b["contact"], "flow": "a\nb"}}, "contact.flow"),
        (lambda b: {**b, "contact": {**b["contact"], "ep_cscf": "x" * 1025}}, "contact.ep_cscf"),
        (lambda b: {**b, "contact": "sip:a@b"}, "contact"),
    ],
)
def test_invalid_body_names_the_field(
    w6_body: Body, mutate: Callable[[dict[str, Any]], object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_registration_write(mutate(w6_body()), "c1")
    assert info.value.field == field


def test_contact_id_is_length_limited(w6_body: Body) -> None:
    with pytest.raises(ValidationError) as info:
        parse_registration_write(w6_body(), "c" * 257)
    assert info.value.field == "contact_id"


# ----- answers of the registrar, read by the W6/W7 client (one model both sides) -----------

T0 = 1_750_000_000.25
ENTRY = Entry(
    impu="sip:wrtc-abc@block2.ims.example.net",
    wimpu="sip:wrtc-!.*!@block2.ims.example.net",
    external_identity="sip:bob@enterprise.com",
    allocated_by=AllocatedBy.EP_CSCF,
    contacts=(
        Contact("urn:uuid:1#1", "sip:b@x.invalid;transport=ws", "ep1.f1", "urn:uuid:1", 1,
                ("<sip:p@x>",), "sip:ep-cscf1", expires_at=T0 + 600.5, registered_at=T0),
        Contact("sip:c@x.invalid", "sip:c@x.invalid", "ep1.f2", None, None, (), "sip:ep-cscf1",
                expires_at=T0 + 30.0, registered_at=T0),
    ),
    created_at=T0,
    updated_at=T0,
)  # fmt: skip


def test_an_entry_read_back_from_its_json_is_the_entry_less_the_registrar_only_times() -> None:
    read = Entry.from_json(json.loads(json.dumps(entry_json(ENTRY, T0))))
    assert read == dataclasses.replace(
        ENTRY,
        contacts=tuple(dataclasses.replace(c, registered_at=None) for c in ENTRY.contacts),
        created_at=None,
        updated_at=None,
    )
    assert [c.expires_in(T0) for c in read.contacts] == [601, 30]


def test_a_write_body_round_trips_through_its_parser(w6_body: Body) -> None:
    write = parse_registration_write(w6_body(), "c1")
    assert parse_registration_write(write.to_json(), "c1") == write


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: {k: v for k, v in e.items() if k != "impu"}, "entry.impu"),
        (lambda e: {**e, "impu": "mailto:x@y"}, "entry.impu"),
        (lambda e: {**e, "wimpu": "sip:plain@block2.ims.example.net"}, "entry.wimpu"),
        (lambda e: {**e, "allocated_by": "nobody"}, "entry.allocated_by"),
        (lambda e: {**e, "contacts": []}, "entry.contacts"),
        (lambda e: {**e, "contacts": [{**e["contacts"][0], "flow": 7}]}, "entry.contacts[0].flow"),
        (lambda e: {**e, "contacts": [{**e["contacts"][0], "expires": 0}]}, "entry.contacts[0].expires"),
        (lambda e: {**e, "contacts": [{**e["contacts"][0], "expires_at": "soon"}]},
         "entry.contacts[0].expires_at"),
        (lambda e: {**e, "contacts": [{**e["contacts"][0], "expires_at": "2025-01-01T00:00:00"}]},
         "entry.contacts[0].expires_at"),
        (lambda e: [e], "entry"),
    ],
)  # fmt: skip
def test_a_malformed_entry_answer_is_refused_naming_the_member(
    mutate: Callable[[dict[str, Any]], object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Entry.from_json(mutate(entry_json(ENTRY, T0)))
    assert info.value.field == field


def test_unknown_members_of_an_answer_are_ignored() -> None:
    assert Entry.from_json({**entry_json(ENTRY, T0), "future": 1}).impu == ENTRY.impu


def test_a_status_answer_is_validated() -> None:
    registered = RegistrationStatus("sip:bob@enterprise.com", True, ENTRY.impu, ENTRY.wimpu, None)
    assert RegistrationStatus.from_json(status_json(registered)) == registered
    unregistered = RegistrationStatus("sip:x@y.example", False)
    assert RegistrationStatus.from_json(status_json(unregistered)) == unregistered
    with pytest.raises(ValidationError):
        RegistrationStatus.from_json({**status_json(registered), "impu": None})
    with pytest.raises(ValidationError):
        RegistrationStatus.from_json({**status_json(registered), "registered": "yes"})
