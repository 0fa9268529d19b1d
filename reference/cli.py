"""``wimpu-ref``: run the reference stack on loopback.

    wimpu-ref up [--config STACK.toml] [--state-dir DIR] [--keylog KEYS] [--verbose] [--nodes N,...]
                 [--pixit-out FILE]
    wimpu-ref config            # print the default configuration
    wimpu-ref hash-password [--ln 14] [-r 8] [-p 1]   # a [[user]] password_hash

starts the wIMPU Registrar, the WWSF, the S-CSCF, the I-CSCF and the eP-CSCFs of the
reference profile (or of STACK.toml), prints every endpoint and the test users, logs each
SIP message, and stops cleanly on Ctrl-C. A configuration error is one line on stderr
and exit status 2, before anything starts.

``--pixit-out FILE`` writes, once the nodes are up, a PIXIT (``docs/pixit.md``) describing
the stack as external nodes: their addresses, the test CA to trust, the WWSF's token
signing key (saved in the state directory), the blocks, users and IMS users. The
conformance suite then runs against the reference started as separate processes
(``wimpu-conformance run --sut FILE``).

``hash-password`` reads a password from a prompt (twice) or, when stdin is not a terminal,
from stdin's first line, and prints its ``password_hash`` for a ``[[user]]`` table: the PHC
string ``$scrypt$ln=14,r=8,p=1$<salt>$<hash>`` (``reference/nodes/wwsf/users.py``). Never from
the command line, where other users of the machine and the shell history would see it.

``--keylog KEYS`` (or ``SSLKEYLOGFILE``, or ``[stack] keylog``) has every TLS server and client
of the stack append its secrets to KEYS (NSS key log, created mode 0600), so a lab's capture
of the stack's WSS, HTTPS and W6/W7 decrypts: ``wimpu-conformance verify TRACE --keylog KEYS``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import getpass
import json
import logging
import os
import signal
import sys
from pathlib import Path

from reference.clock import OffsetFileClock
from reference.config import ConfigError, check_ports_free, default_config_text, load_config
from reference.nodes.wimpu_registrar.model import RegistrarError
from reference.nodes.wwsf.users import DEFAULT_LN, DEFAULT_P, DEFAULT_R, check_credentials, hash_password
from reference.stack import Stack
from reference.stack_access import OBSERVER
from reference.tls import DEFAULT_SANS, PkiError

__all__ = ["main"]


async def _up(args: argparse.Namespace) -> int:
    # Reading the configuration and building the nodes allocate a few objects a configured user
    # and free none: the cyclic collector would walk every one of them again and again (a third
    # of Stack() at 100,000 users); it runs again, as always, once the nodes are built.
    gc.disable()
    try:
        config = load_config(args.config)
        if args.state_dir:
            config = dataclasses.replace(config, state_dir=args.state_dir)
        if args.host:
            config = dataclasses.replace(config, host=args.host)
        if args.keylog:
            config = dataclasses.replace(config, keylog=args.keylog)
        nodes = None if args.nodes is None else [n.strip() for n in args.nodes.split(",") if n.strip()]
        clock = OffsetFileClock(args.clock_offset_file) if args.clock_offset_file else None
        stack = Stack(config, nodes=nodes, clock=clock)
        if args.host:  # the WSS and HTTPS servers' certificates name the address too
            for name in ("ep-cscf", "wwsf"):
                stack.pki.ensure_server(name, (*DEFAULT_SANS, args.host))
        if nodes is not None:
            unknown = sorted(set(nodes) - set(stack.node_names()))
            if unknown:
                raise ConfigError(
                    f"--nodes: unknown node {unknown[0]!r} (nodes: {', '.join(stack.node_names())})"
                )
            if config.state_dir is None:
                raise ConfigError("--nodes: nodes in separate processes share --state-dir (the test PKI)")
        if args.pixit_out and nodes is not None:
            _check_pixit_ports(stack, nodes)
        check_ports_free(config, only=nodes)
    except (ConfigError, PkiError, ValueError) as exc:  # one line, before anything starts
        print(f"wimpu-ref: configuration error: {exc}", file=sys.stderr)
        return 2
    finally:
        gc.enable()
    try:
        await stack.start()
        if stack.runs("wwsf"):  # for a PIXIT, written by this process or another one of the stack
            _write_atomically(_signing_key_path(stack), stack.wwsf.signing_key_pem(), 0o600)
    except (OSError, RuntimeError, ValueError, RegistrarError) as exc:  # the store: one line too
        print(f"wimpu-ref: cannot start the stack: {exc}", file=sys.stderr)
        await stack.stop()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print("wIMPU reference stack (TR 23.701 5.2.2) is up:")
    for name, url in stack.endpoints().items():
        print(f"  {name:28} {url}")
    print(f"  {'test CA certificate':28} {stack.pki.ca_path}")
    for line in _credential_lines(stack):
        print(line)
    if args.pixit_out:
        try:
            _write_atomically(Path(args.pixit_out), _pixit_text(stack).encode(), 0o644)
        except OSError as exc:
            reason = exc.strerror or exc
            print(f"wimpu-ref: cannot write the PIXIT {args.pixit_out}: {reason}", file=sys.stderr)
            await stack.stop()
            return 1
        print(f"  {'PIXIT (the stack, external)':28} {args.pixit_out}")
    print("Ctrl-C stops it.", flush=True)
    await stop.wait()
    print("stopping...", flush=True)
    await stack.stop()
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    """``hash-password``: the PHC scrypt string of a password read from a prompt or stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("wimpu-ref: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    reason = check_credentials("", password)
    if not password or reason is not None:
        print(f"wimpu-ref: {reason or 'empty password'}", file=sys.stderr)
        return 2
    try:
        print(hash_password(password, args.ln, args.r, args.p))
    except ValueError as exc:
        print(f"wimpu-ref: {exc}", file=sys.stderr)
        return 2
    return 0


def _credential_lines(stack: Stack) -> list[str]:
    """What an operator needs: the registrar's client certificates (mutual TLS), each block's
    digest password at the S-CSCF/HSS, and the demo users' passwords (docs/security.md)."""
    lines = [
        f"  {'registrar client certificates':28} {stack.pki.directory}/client.<node>.pem and .key, <node> "
        f"one of: {', '.join(stack.access.grants)} (mutual TLS to W6/W7, TS 33.501 13.1)"
    ]
    for b in stack.config.blocks:
        lines.append(
            f"  block {b.name!r} registers as {b.name}@{stack.config.ims_domain} with password "
            f"{b.password!r} (S-CSCF/HSS digest; {stack.secrets.path(f'block.{b.name}')} unless configured)"
        )
    hashed = 0
    for user in stack.config.users:
        if user.password is None:
            hashed += 1
            continue
        lines.append(
            f"  user {user.username!r} (demo password {user.password!r}) registers as {user.identity}"
        )
    if hashed:
        lines.append(f"  {hashed} user(s) configured with a password_hash (not shown)")
    return lines


# ----- --pixit-out: the running stack as a PIXIT of external nodes ---------------------------


DESCRIPTION = "wIMPU reference implementation (reference/), separate processes (wimpu-ref up)"


def _check_pixit_ports(stack: Stack, nodes: list[str]) -> None:
    """With ``--nodes``, the PIXIT names the other nodes too: they need fixed ports."""
    config = stack.config
    for name in stack.node_names():
        if name in nodes:
            continue
        if name in ("registrar", "wwsf", "i-cscf", "s-cscf"):
            fixed = bool(config.ports.get(name.replace("-", "_"))) or (
                name == "registrar" and config.registrar_url is not None
            )
        else:
            fixed = all(config.ep_ports.get(name, (0, 0)))
        if not fixed:
            raise ConfigError(
                f"--pixit-out: {name} runs elsewhere without a fixed port in the configuration, "
                "so the PIXIT cannot say where it is"
            )


def _clock_lines(stack: Stack) -> list[str]:
    """``[clock] offset_file`` when the stack reads its time from an offset file."""
    if not isinstance(stack.clock, OffsetFileClock):
        return []
    return ["", "[clock]", f"offset_file = {_toml(str(stack.clock.path.resolve()))}"]


def _toml(value: object) -> str:
    """A TOML value: JSON strings and lists of strings are valid TOML basic strings and arrays."""
    return json.dumps(value)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(tmp, path)


def _signing_key_path(stack: Stack) -> Path:
    """Where the process running the WWSF saves its token signing key (PEM, mode 0600)."""
    return stack.state / "wwsf-signing-key.pem"


def _signing_key(stack: Stack) -> Path | None:
    """The WWSF's token signing key on disk, if its process saved it (preflight checks it is current)."""
    path = _signing_key_path(stack)
    return path.resolve() if path.is_file() else None


def _sip(stack: Stack, node: str, key: str) -> str:
    service = stack.scscf if node == "s-cscf" else stack.icscf
    port = service.node.port if stack.runs(node) else stack.config.ports[key]
    return f"tcp://{stack.config.host}:{port}"


def _pixit_text(stack: Stack) -> str:
    config = stack.config
    key = _signing_key(stack)
    lines = [
        "# PIXIT of the wIMPU reference stack started by `wimpu-ref up --pixit-out` "
        f"(pid {os.getpid()}, nodes: {', '.join(sorted(stack.nodes)) if stack.nodes else 'all'}).",
        "# Every node is external: the suite reaches it at these addresses. docs/pixit.md explains each key.",
        "",
        "[sut]",
        f"description = {_toml(DESCRIPTION)}",
        "",
        "[stack]",
        f"host = {_toml(config.host)}",
        f"ims_domain = {_toml(config.ims_domain)}",
        f"remote_domain = {_toml(config.remote_domain)}",
        "",
        "[trust]",
        f"ca = {_toml([str(stack.pki.ca_path.resolve())])}",
        "",
        "[wwsf]",
        'mode = "external"',
        f"url = {_toml(stack.wwsf_origin)}",
        f"signing_key = {_toml(str(key))}" if key else "# signing_key: not on disk (the WWSF runs elsewhere)",
        "",
        "[registrar]",
        'mode = "external"',
        f"url = {_toml(stack.registrar_url)}",
        f"client_cert = {_toml(str(stack.pki.client_cert_path(OBSERVER).resolve()))}",
        f"client_key = {_toml(str(stack.pki.client_key_path(OBSERVER).resolve()))}",
        "",
        "[i_cscf]",
        'mode = "external"',
        f"sip = {_toml(_sip(stack, 'i-cscf', 'i_cscf'))}",
        "",
        "[s_cscf]",
        'mode = "external"',
        f"sip = {_toml(_sip(stack, 's-cscf', 's_cscf'))}",
        "",
        "[remote]",
        'mode = "emulated"',
        *([f'sip = "tcp://{config.host}:{config.ports["remote"]}"'] if config.ports.get("remote") else []),
        *_clock_lines(stack),
    ]
    for name in sorted({b.ep_cscf for b in config.blocks}):
        ep = stack.ep_cscfs.get(name)
        sip_port = ep.pcscf.node.port if ep is not None else config.ep_ports[name][1]
        lines += [
            "",
            "[[ep_cscf]]",
            f"name = {_toml(name)}",
            'mode = "external"',
            f"url = {_toml(stack.ep_wss_url(name))}",
            f"sip = {_toml(f'tcp://{config.host}:{sip_port}')}",
            f"identity = {_toml(stack.ep_identity(name))}",
        ]
    for b in config.blocks:
        lines += [
            "",
            "[[block]]",
            f"wimpu = {_toml(b.wimpu)}",
            f"option = {_toml(b.option)}",
            f"ep_cscf = {_toml(b.ep_cscf)}",
            f"name = {_toml(b.name)}",
            "# password: not needed with this stack's S-CSCF (see `wimpu-ref up`'s output, or "
            f"{stack.secrets.path(f'block.{b.name}').resolve()})",
            f"registration = {b.registration}",
            f"external_domains = {_toml(list(b.external_domains))}",
        ]
    hashed = [u for u in config.users if u.password is None]
    for u in config.users:
        if u.password is not None:
            fields = {
                "username": u.username,
                "password": u.password,
                "identity": u.identity,
                "block": u.block,
            }
            lines += ["", "[[user]]"] + [f"{k} = {_toml(v)}" for k, v in fields.items()]
    if hashed:  # the suite logs in with a password: a stored hash gives it none
        lines += [
            "",
            f"# {len(hashed)} user(s) with a password_hash left out: the suite needs their passwords",
        ]
    ims_users = [sub for sub in stack.hss.subscriptions if not sub.wildcard_impus]  # not wIMPU blocks
    for i, sub in enumerate(ims_users):
        lines += [
            "",
            "[[ims_user]]",
            f"identity = {_toml(sub.distinct_impus[0])}",
            f"impi = {_toml(sub.impi)}",
            f"password_file = {_toml(str(stack.secrets.path(f'ims-user-{i}').resolve()))}",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wimpu-ref", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole reference stack on loopback")
    up.add_argument(
        "--config", help="a stack TOML file (default: the reference profile; see `wimpu-ref config`)"
    )
    up.add_argument("--state-dir", help="keep the PKI and the registrar database here (default: temporary)")
    up.add_argument(
        "--host",
        help="listen on this address instead of the configuration's [stack] host (a test run on a "
        "loopback address of its own: its fixed ports collide with no other run's)",
    )
    up.add_argument(
        "--keylog",
        metavar="KEYS",
        help="append the TLS secrets of every TLS server and client of the stack to KEYS (NSS key "
        "log, as SSLKEYLOGFILE; mode 0600) so a capture of its WSS and HTTPS decrypts",
    )
    sub.add_parser("config", help="print the default configuration (a starting point for --config)")
    hashing = sub.add_parser(
        "hash-password",
        help="print a [[user]] password_hash (scrypt, PHC string) of a password read from a prompt or stdin",
    )
    hashing.add_argument("--ln", type=int, default=DEFAULT_LN, help=f"log2 of scrypt's N ({DEFAULT_LN})")
    hashing.add_argument("-r", type=int, default=DEFAULT_R, help=f"scrypt's block size r ({DEFAULT_R})")
    hashing.add_argument("-p", type=int, default=DEFAULT_P, help=f"scrypt's parallelism p ({DEFAULT_P})")
    up.add_argument("--verbose", action="store_true", help="log every SIP message in full")
    up.add_argument(
        "--nodes",
        help="run only these nodes, comma-separated (registrar, wwsf, s-cscf, i-cscf, ep-cscf1, ...); "
        "the others are reached at their configured ports",
    )
    up.add_argument(
        "--clock-offset-file",
        metavar="FILE",
        help="read the time as real time plus the seconds written in FILE (a tester moves every node's "
        "clock at once; the suite's scenarios that let time pass need it)",
    )
    up.add_argument(
        "--pixit-out",
        metavar="FILE",
        help="once up, write a PIXIT describing these nodes as external (for wimpu-conformance run --sut)",
    )
    args = parser.parse_args(argv)
    if args.command == "config":
        print(default_config_text(), end="")
        return 0
    if args.command == "hash-password":
        return _hash_password(args)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)-18s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    return asyncio.run(_up(args))


if __name__ == "__main__":
    sys.exit(main())
