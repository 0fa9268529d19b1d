"""Start-up time of ``wimpu-ref up`` with many configured users, beside Kamailio's (issue 18, 4).

For each level N the reference profile is written with N more ``[[user]]`` tables of block1 and
started as its own process (``wimpu-ref up --config ... --host 127.0.92.1``). Timed from the
spawn: *listening*, when the WWSF (8443) and the first eP-CSCF's WSS (7443) accept a TCP
connection, and *answers*, when a WWSF log-in (HTTPS, ``POST /login``) of the **last** configured
user succeeds, polled every 20 ms. The state directory (test PKI, registrar database) is created by
the first row, the reference profile alone (cold: it issues the certificates), and reused by the
others (warm), so their rows are what the users cost on top of the fixed start-up.

Users are configured as an operator would, with a ``password_hash`` each (PHC scrypt string,
``wimpu-ref hash-password``); one hash is computed for all but the last user (hashing 100,000
distinct passwords would take an hour; parsing does not depend on the values) and one for the
last, whose password the log-in proves. Values are TOML literal strings (``'...'``, as a generator
of user tables would write them): ``tomllib`` reads a basic string (``"..."``) a character at a time
in Python, a literal one with ``str.index``, which takes a third off the parse of 100,000 users.
The ``--plaintext`` row configures the same users with a plaintext ``password`` for comparison
(hashed at the first log-in, not at start-up).

The peer, started in the same run: Kamailio 5.6 with the minimal configuration of
``bench/register_rate.py`` (a plain SIP-over-WebSocket registrar, ``ws://``, no TLS, no
authentication, no user database: it has no users to load), timed from its spawn until a REGISTER
over a WebSocket connection gets its 200. It is the floor of "a SIP server process answers"; the
ratio says how far the reference is from it at each N, not that both do the same work.

The same users are then configured in a users file (``users_file = 'users.txt'``, one user a line,
``docs/security.md``) instead of tables, the rows of ``--file-users``: the file is read with
``str.split`` and no TOML parser.

Usage: ``python3 bench/startup_time.py [--users 1000,100000] [--file-users 1000,100000]
[--plaintext 1000]`` (``--plaintext 0``: no plaintext row; ``--file-users``: the levels of
``--users`` unless given). Needs Kamailio (``scripts/install.sh``) for the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

# register_rate is a sibling: `python3 bench/<name>.py` puts bench/ first on the path
from register_rate import kamailio_config, spawn, stop
from websockets.exceptions import WebSocketException

from conformance.harness.wic import HandshakeRefused, Wic, web_login
from reference.config import default_config_text
from reference.nodes.wwsf.users import hash_password
from reference.tls import TestPki

REF_HOST = "127.0.92.1"
KAM_HOST = "127.0.92.2"
KAM_PORT = 8090
BLOCK = "sip:wrtc-!.*!@block1.ims.example.net"
TIMEOUT = 600.0
POLL = 0.02


def users_file(users: int, last_password: str) -> str:
    """A users file (``users_file``, ``docs/security.md``): the same users as :func:`stack_config`
    with a ``password_hash``, one a line."""
    shared, last = hash_password(secrets.token_hex(8)), hash_password(last_password)
    lines = [f"# {users} users of block1 (bench/startup_time.py)\n"]
    lines += [
        f"load-{n} {last if n == users - 1 else shared} sip:wrtc-load-{n}@block1.ims.example.net {BLOCK}\n"
        for n in range(users)
    ]
    return "".join(lines)


def stack_config(users: int, password_hash: bool, last_password: str) -> str:
    """The reference profile with ``users`` more users of block1, the last one's password given."""
    parts = [default_config_text()]
    shared = hash_password(secrets.token_hex(8)) if password_hash else ""
    for n in range(users):
        last = n == users - 1
        if password_hash:
            secret = f"password_hash = '{hash_password(last_password) if last else shared}'"
        else:
            secret = f"password = '{last_password if last else f'load-{n}-password'}'"
        parts.append(
            f"\n[[user]]\nusername = 'load-{n}'\n{secret}\n"
            f"identity = 'sip:wrtc-load-{n}@block1.ims.example.net'\nblock = '{BLOCK}'\n"
        )
    return "".join(parts)


def accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def until(condition: object, process: subprocess.Popen[bytes], what: str) -> float:
    """Poll ``condition()`` every 20 ms; the monotonic time it first held."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if condition():  # type: ignore[operator]
            return time.monotonic()
        time.sleep(POLL)
    raise TimeoutError(f"{what}: not within {TIMEOUT} s")


def login(state: Path, username: str, password: str) -> bool:
    context = TestPki(state / "pki").client_context()
    try:
        asyncio.run(web_login(f"https://{REF_HOST}:8443", username, password, context))
    except (OSError, PermissionError, ValueError, aiohttp.ClientError):  # not answering yet
        return False
    return True


def start_reference(
    directory: Path, config: str, username: str, password: str, users: str | None = None
) -> tuple[float, float]:
    """Seconds from spawn to listening and to the log-in of ``username`` answered; ``users``: the
    text of a users file, named by ``users_file`` at the head of the configuration."""
    path = directory / "stack.toml"
    if users is not None:
        (directory / "users.txt").write_text(users)
        config = f"users_file = 'users.txt'\n{config}"
    path.write_text(config)
    state = directory / "state"
    command = [sys.executable, "-m", "reference.cli", "up", "--config", str(path)]
    command += ["--host", REF_HOST, "--state-dir", str(state)]
    started = time.monotonic()
    process = spawn(command, directory / "ref.log")
    try:
        what = "wimpu-ref up"
        listening = until(lambda: accepts(REF_HOST, 8443) and accepts(REF_HOST, 7443), process, what)
        answered = until(lambda: login(state, username, password), process, what)
    finally:
        stop(process)
    return listening - started, answered - started


def start_kamailio(directory: Path, kamailio: str) -> float:
    """Seconds from spawn to a REGISTER over WebSocket answered 200."""

    async def registered() -> bool:
        wic = Wic(f"peer-{secrets.token_hex(3)}", ssl_context=None, timeout=2.0)  # type: ignore[arg-type]
        try:
            await wic.connect(f"ws://{KAM_HOST}:{KAM_PORT}", origin=None)
            response = await wic.register("sip:wrtc-load-0@block1.ims.example.net", token=None)
            return response.status == 200
        except (OSError, TimeoutError, HandshakeRefused, WebSocketException):  # not answering yet
            return False
        finally:
            with contextlib.suppress(Exception):
                await wic.close()

    command = [kamailio, "-f", str(kamailio_config(directory, KAM_HOST, KAM_PORT)), "-DD", "-E"]
    started = time.monotonic()
    process = spawn(command, directory / "kam.log")
    try:
        answered = until(lambda: asyncio.run(registered()), process, "kamailio")
    finally:
        stop(process)
    return answered - started


HEADER = f"{'SUT':<48} {'users':>7} {'listening s':>12} {'answers s':>10}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--users", default="1000,100000", help="levels of configured users (1000,100000)")
    parser.add_argument(
        "--plaintext", type=int, default=1000, help="users of the plaintext row (1000; 0: no such row)"
    )
    parser.add_argument(
        "--file-users",
        default="",
        help="levels of the rows with a users file instead of [[user]] tables (default: --users; 0: none)",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.users.split(",") if x.strip()]
    kamailio = shutil.which("kamailio")
    password = secrets.token_hex(12)
    file_levels = [int(x) for x in (args.file_users or args.users).split(",") if x.strip() and int(x)]
    # (name, users, kind): kind "hash" [[user]] tables with a password_hash, "file" a users file,
    # "plaintext" [[user]] tables with a password
    rows: list[tuple[str, int, str]] = [("reference profile (cold: issues the PKI)", 0, "hash")]
    rows += [("reference, password_hash [[user]] tables", n, "hash") for n in levels]
    rows += [("reference, users_file (password_hash)", n, "file") for n in file_levels]
    if args.plaintext:
        rows.append(("reference, plaintext password [[user]] tables", args.plaintext, "plaintext"))
    print(f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; every time from the process's spawn\n")
    print(HEADER)
    answers: dict[tuple[int, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="wimpu-startup-") as tmp:
        directory = Path(tmp)
        for name, users, kind in rows:
            listed = None
            if not users:
                config, who = default_config_text(), ("alice", "alice-password")
            elif kind == "file":
                config, who = default_config_text(), (f"load-{users - 1}", password)
                listed = users_file(users, password)
            else:
                config, who = stack_config(users, kind == "hash", password), (f"load-{users - 1}", password)
            listening, answered = start_reference(directory, config, *who, users=listed)
            answers[users, kind] = answered
            print(f"{name:<48} {users + 3:>7} {listening:>12.2f} {answered:>10.2f}", flush=True)
        if not kamailio:
            print("\nkamailio not installed (scripts/install.sh): no peer, no ratio")
            return 0
        peer = start_kamailio(directory, kamailio)
    print(f"{'Kamailio 5.6 plain WS registrar (no users)':<48} {'-':>7} {'-':>12} {peer:>10.2f}")
    for _, users, kind in rows[1:]:
        ratio = answers[users, kind] / peer
        print(f"{'ratio reference / Kamailio, ' + kind:<48} {users + 3:>7} {'':>12} {ratio:>9.1f}x")
    print("\ntarget (issue 18): answers under 2 s with 100,000 users (users: the profile's 3 included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
