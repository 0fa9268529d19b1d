"""The OpenAPI document of W6/W7 matches the service: same routes, valid schemas, and the
responses of a full W6/W7 exchange validate against it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from reference.nodes.wimpu_registrar import RegistrarService

DOC: dict[str, Any] = json.loads(
    resources.files("reference.nodes.wimpu_registrar").joinpath("openapi.json").read_text()
)
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _app_routes() -> set[tuple[str, str]]:
    app = RegistrarService(db_path=":memory:").app
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }


def _doc_routes() -> set[tuple[str, str]]:
    return {(method, path) for path, item in DOC["paths"].items() for method in item if method in METHODS}


def test_every_route_of_the_app_is_documented() -> None:
    assert _app_routes() - _doc_routes() == set()


def test_every_documented_path_exists_in_the_app() -> None:
    assert _doc_routes() - _app_routes() == set()


def test_document_says_the_api_is_a_project_proposal() -> None:
    description = DOC["info"]["description"]
    assert DOC["openapi"].startswith("3.1")
    assert "not a 3GPP specification" in description and "never" in description


def test_document_is_a_valid_openapi_3_1_document() -> None:
    import openapi_spec_validator as validator

    validator.validate(DOC)


@pytest.mark.parametrize("name", sorted(DOC["components"]["schemas"]))
def test_every_schema_is_valid_json_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(DOC["components"]["schemas"][name])


def test_every_operation_documents_its_path_parameters() -> None:
    for path, item in DOC["paths"].items():
        declared = set(re.findall(r"{(\w+)}", path))
        for method in METHODS & set(item):
            params = item.get("parameters", []) + item[method].get("parameters", [])
            names = {
                DOC["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
                for p in params
                if "$ref" in p
            }
            assert declared <= names, f"{method.upper()} {path}"


async def test_responses_of_a_full_exchange_match_the_document(
    api: Any, w6_body: Callable[..., dict[str, Any]], clock: Any
) -> None:
    impu = "sip:wrtc-0001@block1.ims.example.net"
    external = "sip:bob@enterprise.com"
    entry = "/w6/v1/registrations/{impu}"
    contact = "/w6/v1/registrations/{impu}/contacts/{contact_id}"
    option_b = w6_body(allocated_by="ep-cscf", external_identity=external)
    assert api.schema("RegistrationWrite").is_valid(option_b)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", entry, {"impu": impu}),  # 404
        ("PUT", contact, {"impu": impu, "contact_id": "c1", "json_body": option_b}),  # 201
        ("PUT", contact, {"impu": impu, "contact_id": "c2", "json_body": option_b}),  # 200
        ("PUT", contact, {"impu": impu, "contact_id": "c2", "json_body": option_b}),  # 200
        ("GET", entry, {"impu": impu}),  # 200
        ("GET", "/w6/v1/registrations", {"params": {"external": external}}),  # 200
        ("GET", "/w7/v1/registration-status", {"params": {"identity": external}}),  # 200
        ("GET", "/w7/v1/registration-status", {"params": {"identity": "bad"}}),  # 400
        ("PUT", contact, {"impu": impu.replace("1@", "2@"), "contact_id": "c", "json_body": option_b}),  # 409
        ("PUT", contact, {"impu": impu, "contact_id": "c", "data": b"x"}),  # 415
        ("DELETE", contact, {"impu": impu, "contact_id": "c1"}),  # 200
        ("DELETE", contact, {"impu": impu, "contact_id": "c9"}),  # 404
        ("DELETE", entry, {"impu": impu}),  # 204
        ("GET", "/health", {}),
        ("GET", "/openapi.json", {}),
    ]
    statuses = []
    for method, template, kwargs in calls:
        statuses.append((await api.call(method, template, **kwargs)).status)
    assert statuses == [404, 201, 200, 200, 200, 200, 200, 400, 409, 415, 200, 404, 204, 200, 200]
    assert api.checked == len(calls) - 1  # every response but the 204 has a checked body
