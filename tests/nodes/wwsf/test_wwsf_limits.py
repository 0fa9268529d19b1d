"""The WWSF's login limits over HTTPS (issue 13 item 6): 429 with Retry-After before any
hashing, 400 with a reason for every malformed credential, hashing off the event loop."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from reference.nodes.wwsf import UserStore, WwsfService
from reference.nodes.wwsf.throttle import Budget, LoginThrottle
from reference.nodes.wwsf.users import check_credentials
from reference.tls import TestPki

USERS = {"alice": {"password": "alice-pw", "identity": "sip:wrtc-alice@block1.ims.example.net"}}
BLOCKS = [{"wimpu": "sip:wrtc-!.*!@block1.ims.example.net", "ep_cscf": {"uri": "wss://127.0.0.1:7443"}}]


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def wwsf(tmp_path: Path, clock: Clock) -> AsyncIterator[WwsfService]:
    throttle = LoginThrottle(per_user_source=Budget(3, 60.0))
    service = WwsfService(
        pki=TestPki(tmp_path / "pki"), users=USERS, blocks=BLOCKS, throttle=throttle, monotonic=clock
    )
    async with service:
        yield service


@pytest.fixture
async def http(wwsf: WwsfService, tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=TestPki(tmp_path / "pki").client_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def login(
    http: aiohttp.ClientSession, wwsf: WwsfService, **kwargs: Any
) -> tuple[int, dict[str, Any], Any]:
    async with http.post(f"{wwsf.origin}/login", **kwargs) as response:
        return response.status, await response.json(content_type=None), response.headers


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The thread names of every password check."""
    seen: list[str] = []
    authenticate = UserStore.authenticate

    def counting(self: UserStore, username: str, password: str) -> Any:
        seen.append(threading.current_thread().name)
        return authenticate(self, username, password)

    monkeypatch.setattr(UserStore, "authenticate", counting)
    return seen


async def test_wwsf_answers_429_with_retry_after_before_hashing(
    wwsf: WwsfService, http: aiohttp.ClientSession, clock: Clock, hashes: list[str]
) -> None:
    for _ in range(3):
        assert (await login(http, wwsf, json={"username": "alice", "password": "guess"}))[0] == 401
    status, body, headers = await login(http, wwsf, json={"username": "alice", "password": "alice-pw"})
    assert status == 429 and headers["Retry-After"] == "20" and body["status"] == 429
    assert "retry after 20 s" in body["detail"]
    assert len(hashes) == 3, "the throttled attempt was answered without hashing"
    clock.now += 20
    assert (await login(http, wwsf, json={"username": "alice", "password": "alice-pw"}))[0] == 200


async def test_wwsf_hashes_in_its_own_threads(
    wwsf: WwsfService, http: aiohttp.ClientSession, hashes: list[str]
) -> None:
    assert (await login(http, wwsf, json={"username": "alice", "password": "alice-pw"}))[0] == 200
    assert hashes and all(name.startswith("wwsf-scrypt") for name in hashes)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"username": "alice", "password": "\\ud800"}', "'password' is not valid Unicode"),
        (b'{"username": "\\udc80", "password": "x"}', "'username' is not valid Unicode"),
        (b'{"username": "alice", "password": "\xff"}', "the body is not UTF-8"),
        (
            b'{"username": "alice", "password": "' + b"p" * 2000 + b'"}',
            "'password' is longer than 1024 bytes",
        ),
        (b'{"username": "' + b"u" * 300 + b'", "password": "x"}', "'username' is longer than 256 bytes"),
        (b"[" * 5000 + b"]" * 5000, "the body is not JSON"),
    ],
)
async def test_wwsf_answers_400_with_the_reason_to_a_malformed_login(
    wwsf: WwsfService, http: aiohttp.ClientSession, hashes: list[str], body: bytes, reason: str
) -> None:
    status, problem, _ = await login(http, wwsf, data=body, headers={"Content-Type": "application/json"})
    assert status == 400 and problem["detail"].startswith(reason), problem
    assert hashes == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"username=alice&password=%ff"),
        ("application/x-www-form-urlencoded", b"username=alice&password=\xff"),
        ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(100))),
        ("multipart/form-data", b"--x\r\n\r\n"),
        ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nzz"),
    ],
)
async def test_wwsf_answers_400_to_a_malformed_form(
    wwsf: WwsfService, http: aiohttp.ClientSession, content_type: str, body: bytes
) -> None:
    status, problem, _ = await login(http, wwsf, data=body, headers={"Content-Type": content_type})
    assert status == 400 and problem["detail"], problem


def test_check_credentials_names_the_field_never_the_value() -> None:
    assert check_credentials("alice", "secret") is None
    reason = check_credentials("alice", "secret\ud800")
    assert reason is not None and "secret" not in reason
    assert UserStore(USERS).authenticate("alice", "\ud800") is None
