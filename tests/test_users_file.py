"""A users file (``users_file`` in the stack configuration, issue 18): one WWSF user a line,
``username password_hash identity block``, checked as a ``[[user]]`` table is; each error names the
file and the line, never quotes a hash; a user name is refused twice across tables and file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from conformance.harness.wic import web_login
from reference.config import ConfigError, default_config_text, load_config, parse_config, read_users_file
from reference.nodes.wwsf.users import hash_password
from reference.stack import Stack, UserSpec

PASSWORD = "file user password"
STORED = hash_password(PASSWORD)
"One hash for the module (scrypt at the default cost is about 40 ms)."
BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"
BLOCK2 = "sip:wrtc-!.*!@block2.ims.example.net"
WIMPUS = {BLOCK1, BLOCK2}


def line(username: str, identity: str | None = None, block: str = BLOCK1, stored: str = STORED) -> str:
    return f"{username} {stored} {identity or f'sip:wrtc-{username}@block1.ims.example.net'} {block}"


def write(tmp_path: Path, *lines: str, name: str = "users.txt") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_users_file_gives_the_users_a_user_table_would(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# username password_hash identity block",
        "",
        line("erin"),
        "   # an indented comment",
        f"frank\t{STORED}\t\tsip:frank@enterprise.com   {BLOCK2}\r",  # tabs, runs of blanks, CRLF
        "   ",
    )
    users = read_users_file(path, WIMPUS)
    assert users == [
        UserSpec("erin", None, "sip:wrtc-erin@block1.ims.example.net", BLOCK1, STORED),
        UserSpec("frank", None, "sip:frank@enterprise.com", BLOCK2, STORED),
    ]
    # the same users as [[user]] tables with a password_hash: one model
    data = tomllib.loads(default_config_text())
    data["user"] += [
        {"username": u.username, "password_hash": STORED, "identity": u.identity, "block": u.block}
        for u in users
    ]
    assert parse_config(data).users[-2:] == tuple(users)


def test_a_byte_order_mark_is_not_part_of_the_first_user_name(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    path.write_text(line("erin") + "\n", encoding="utf-8-sig")
    assert [u.username for u in read_users_file(path, WIMPUS)] == ["erin"]


def test_the_configuration_reads_the_file_beside_it_after_its_tables(tmp_path: Path) -> None:
    write(tmp_path, line("erin"), line("grace"))
    config_path = tmp_path / "stack.toml"
    config_path.write_text(f'users_file = "users.txt"\n{default_config_text()}')
    config = load_config(config_path)
    assert [u.username for u in config.users] == ["alice", "dave", "bob", "erin", "grace"]
    assert config.users[3].credential() == {"password_hash": STORED}


@pytest.mark.parametrize(
    ("content", "number", "reason"),
    [
        ([line("erin"), f"grace {STORED} {BLOCK1}"], 2, "3 field(s), expected 4"),
        ([line("erin") + " extra"], 1, "5 field(s), expected 4"),
        (
            ["# users", line("erin", "sip:wrtc-erin@block1.ims.example.net", "sip:wrtc-!.*!@nowhere.net")],
            2,
            "block: ",
        ),
        ([line("erin", "not-an-identity")], 1, "identity: "),
        ([line("erin", "http://erin@example.com")], 1, "identity: "),
        ([line("erin", stored="plaintext-password")], 1, "'password_hash': not a PHC scrypt string"),
        ([line("erin", stored=STORED.replace("ln=14", "ln=20"))], 1, "out of bounds"),
        ([line("erin", stored=STORED.replace("ln=14", "ln=10"))], 1, "weaker than"),
        (
            ["", line("erin"), "# again", line("erin", "sip:wrtc-erin2@block1.ims.example.net")],
            4,
            "'erin' is also",
        ),
    ],
)
def test_each_error_names_the_file_and_line_and_never_the_hash(
    tmp_path: Path, content: list[str], number: int, reason: str
) -> None:
    path = write(tmp_path, *content)
    with pytest.raises(ConfigError) as info:
        read_users_file(path, WIMPUS)
    message = str(info.value)
    assert message.startswith(f"{path}:{number}: ") and reason in message, message
    assert "\n" not in message and STORED not in message and "plaintext-password" not in message


def test_a_duplicate_names_where_the_first_was_configured(tmp_path: Path) -> None:
    path = write(tmp_path, line("erin"), line("erin", "sip:wrtc-other@block1.ims.example.net"))
    with pytest.raises(ConfigError, match=rf"^{path}:2: username: 'erin' is also the user name of {path}:1$"):
        read_users_file(path, WIMPUS)


def config_with_file(tmp_path: Path, **edit: Any) -> dict[str, Any]:
    data = tomllib.loads(default_config_text())
    data["users_file"] = "users.txt"
    data.update(edit)
    return data


def test_a_user_name_of_a_table_is_refused_in_the_file(tmp_path: Path) -> None:
    write(tmp_path, line("erin"), line("alice"))
    with pytest.raises(ConfigError) as info:
        parse_config(config_with_file(tmp_path), "stack.toml", tmp_path)
    assert (
        str(info.value) == f"{tmp_path / 'users.txt'}:2: username: 'alice' is also the user name of user[0]"
    )


def test_a_missing_or_undecodable_file_or_a_wrong_type_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^stack.toml: users_file: .*users.txt: no such file$"):
        parse_config(config_with_file(tmp_path), "stack.toml", tmp_path)
    (tmp_path / "users.txt").write_bytes(line("erin").encode() + b"\nfr\xe9d x y z\n")
    with pytest.raises(ConfigError, match=r"users.txt:2: not UTF-8 text$"):
        parse_config(config_with_file(tmp_path), "stack.toml", tmp_path)
    with pytest.raises(ConfigError, match=r"^stack.toml.users_file: expected str"):
        parse_config(config_with_file(tmp_path, users_file=["users.txt"]), "stack.toml", tmp_path)


def test_an_empty_file_adds_no_user(tmp_path: Path) -> None:
    write(tmp_path, "# nobody yet")
    assert len(parse_config(config_with_file(tmp_path), "stack.toml", tmp_path).users) == 3


async def test_a_stack_logs_in_a_user_of_its_users_file(tmp_path: Path) -> None:
    write(tmp_path, "# a users file", line("erin"), line("frank", "sip:frank@enterprise.com", BLOCK2))
    data = config_with_file(tmp_path, ports={})
    for ep in data["ep_cscf"]:
        ep.update(wss_port=0, sip_port=0)
    stack = Stack(parse_config(data, "stack.toml", tmp_path))
    await stack.start()
    try:
        context = stack.pki.client_context()
        login = await web_login(stack.wwsf.origin, "frank", PASSWORD, context)
        assert login.identity == "sip:frank@enterprise.com"
        erin = await web_login(stack.wwsf.origin, "erin", PASSWORD, context)
        assert erin.identity == "sip:wrtc-erin@block1.ims.example.net"
        with pytest.raises(PermissionError):
            await web_login(stack.wwsf.origin, "erin", "wrong", context)
    finally:
        await stack.stop()
