"""Users configured with a stored scrypt hash (``password_hash``, PHC string) instead of a
plaintext password (issue 18): parsing, verification, the bounds on the cost, the errors that name
the user, plaintext hashed at first use, and ``wimpu-ref hash-password``."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from reference.config import ConfigError, default_config_text, parse_config
from reference.nodes.wwsf.users import ScryptHash, UserStore, hash_password

ROOT = Path(__file__).resolve().parents[3]
IDENTITY = "sip:wrtc-alice@block1.ims.example.net"
PASSWORD = "correct horse battery staple"
STORED = hash_password(PASSWORD)
"One hash for the module (scrypt at the default cost is about 40 ms)."


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def phc(params: str = "ln=14,r=8,p=1", salt: str = b64(b"s" * 16), digest: str = b64(b"d" * 32)) -> str:
    return f"$scrypt${params}${salt}${digest}"


def test_a_hash_is_a_phc_string_that_verifies_its_password_only() -> None:
    assert STORED.startswith("$scrypt$ln=14,r=8,p=1$")
    parsed = ScryptHash.parse(STORED)
    assert parsed.cost == (14, 8, 1) and len(parsed.salt) == 16 and len(parsed.digest) == 32
    assert str(parsed) == STORED
    assert parsed.verify(PASSWORD)
    assert not parsed.verify(PASSWORD + " ")
    assert STORED.split("$")[-1] not in repr(parsed)


def test_the_store_authenticates_a_hashed_user() -> None:
    store = UserStore({"alice": {"password_hash": STORED, "identity": IDENTITY}})
    user = store.authenticate("alice", PASSWORD)
    assert user is not None and user.identity == IDENTITY
    assert store.authenticate("alice", "wrong") is None
    assert store.authenticate("nobody", PASSWORD) is None
    assert STORED not in repr(store) and STORED not in repr(store.users())


def test_a_stronger_cost_is_read_from_the_string_and_the_dummy_takes_the_users_cost() -> None:
    stronger = hash_password(PASSWORD, ln=15)
    assert stronger.startswith("$scrypt$ln=15,r=8,p=1$")
    store = UserStore({"alice": {"password_hash": stronger, "identity": IDENTITY}})
    assert store.authenticate("alice", PASSWORD) is not None
    assert store.dummy_cost == (15, 8, 1)  # an unknown user costs what alice costs
    assert UserStore({}).dummy_cost == (14, 8, 1)


def test_a_plaintext_password_is_hashed_at_first_use_not_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    derived: list[int] = []
    derive = ScryptHash.derive

    def counting(self: ScryptHash, password: str) -> bytes:
        derived.append(1)
        return derive(self, password)

    monkeypatch.setattr(ScryptHash, "derive", counting)
    users = {f"user{i}": {"password": f"pw{i}", "identity": IDENTITY} for i in range(200)}
    store = UserStore({**users, "alice": {"password_hash": STORED, "identity": IDENTITY}})
    assert derived == []  # start-up hashed nothing
    assert store.authenticate("user7", "pw7") is not None
    assert len(derived) == 2  # its own hash, made now, then the candidate's
    assert store.authenticate("user7", "pw8") is None
    assert len(derived) == 3  # from then on one hash per attempt
    assert store.authenticate("alice", PASSWORD) is not None


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("", "not a PHC scrypt string"),
        ("scrypt:14:8:1", "not a PHC scrypt string"),
        (phc().replace("$scrypt$", "$argon2id$"), "not a PHC scrypt string"),
        (phc("r=8,ln=14,p=1"), "not a PHC scrypt string"),
        (phc("ln=014,r=8,p=1"), "not a PHC scrypt string"),
        (phc(salt="!!!!"), "not a PHC scrypt string"),
        (phc(salt=b64(b"s" * 16) + "="), "not a PHC scrypt string"),
        (phc(salt="AAAAA"), "the salt is not unpadded base64"),
        (phc(salt=b64(b"s" * 4)), "the salt is 4 bytes, not 8 to 64"),
        (phc(digest=b64(b"d" * 8)), "the hash is 8 bytes, not 16 to 64"),
        (phc(digest=b64(b"d" * 100)), "the hash is 100 bytes, not 16 to 64"),
        (phc("ln=13,r=8,p=1"), "N*r under 131072 (16 MiB)"),
        (phc("ln=14,r=1,p=1"), "N*r under 131072"),
        (phc("ln=18,r=8,p=1"), "out of bounds"),
        (phc("ln=14,r=8,p=16"), "out of bounds"),
        (phc("ln=99,r=8,p=1"), "out of bounds"),
        (phc("ln=14,r=9999,p=1"), "out of bounds"),
    ],
)
def test_a_malformed_or_unbounded_hash_is_refused_naming_the_user(stored: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        UserStore({"mallory": {"password_hash": stored, "identity": IDENTITY}})
    message = str(info.value)
    assert message.startswith("user 'mallory': 'password_hash': ") and reason in message, message
    assert not stored or stored not in message


def test_the_bounds_admit_the_default_and_owasp_costs() -> None:
    for params in ("ln=14,r=8,p=1", "ln=17,r=8,p=1", "ln=15,r=8,p=4", "ln=16,r=16,p=1"):
        assert ScryptHash.validate(phc(params))


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"identity": IDENTITY}, "exactly one of 'password' and 'password_hash', not neither"),
        ({"password": "x", "password_hash": STORED, "identity": IDENTITY}, "not both"),
        ({"password": 5, "identity": IDENTITY}, "'password' must be a string"),
        ({"password_hash": 5, "identity": IDENTITY}, "not a PHC scrypt string"),
    ],
)
def test_both_neither_or_a_wrong_type_is_refused_naming_the_user(
    config: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match="^user 'mallory': ") as info:
        UserStore({"mallory": config})
    assert reason in str(info.value)


def test_the_stack_configuration_takes_a_password_hash_and_refuses_bad_ones() -> None:
    data = tomllib.loads(default_config_text())
    alice = data["user"][0]
    del alice["password"]
    alice["password_hash"] = STORED
    config = parse_config(data, "stack.toml")
    spec = config.users[0]
    assert (spec.username, spec.password, spec.password_hash) == ("alice", None, STORED)
    assert spec.credential() == {"password_hash": STORED}
    assert config.users[1].credential() == {"password": "dave-password"}
    for edit, reason in (
        ({"password": "x"}, "not both"),
        ({"password_hash": phc("ln=20,r=8,p=1")}, "out of bounds"),
        ({"password_hash": "plain"}, "not a PHC scrypt string"),
    ):
        broken = tomllib.loads(default_config_text())
        user = broken["user"][0]
        user.pop("password")
        user.update({"password_hash": STORED, **edit})
        with pytest.raises(ConfigError) as info:
            parse_config(broken, "stack.toml")
        message = str(info.value)
        assert message.startswith("stack.toml: user[0]: user 'alice': ") and reason in message, message
        assert "\n" not in message and STORED not in message
    neither = tomllib.loads(default_config_text())
    neither["user"][0].pop("password")
    with pytest.raises(ConfigError, match="not neither"):
        parse_config(neither, "stack.toml")


def run_cli(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "reference.cli", "hash-password", *args],
        input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env,
    )  # fmt: skip


def test_the_cli_hashes_a_password_read_from_stdin() -> None:
    result = run_cli(stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip()
    assert printed.startswith("$scrypt$ln=14,r=8,p=1$") and PASSWORD not in printed
    assert ScryptHash.parse(printed).verify(PASSWORD)
    stronger = run_cli("--ln", "15", stdin=PASSWORD + "\n")
    assert stronger.stdout.startswith("$scrypt$ln=15,r=8,p=1$")


def test_the_cli_refuses_an_empty_password_and_an_unbounded_cost() -> None:
    empty = run_cli(stdin="")
    assert empty.returncode == 2 and "empty password" in empty.stderr and empty.stdout == ""
    unbounded = run_cli("--ln", "25", stdin="x\n")
    assert unbounded.returncode == 2 and "out of bounds" in unbounded.stderr and unbounded.stdout == ""
