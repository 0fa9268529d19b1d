"""``wimpu-ref``: run the reference stack on loopback.

    wimpu-ref up [--config STACK.toml] [--state-dir DIR] [--verbose]
    wimpu-ref config            # print the default configuration

starts the wIMPU Registrar, the WWSF, the S-CSCF, the I-CSCF and the eP-CSCFs of the
reference profile (or of STACK.toml), prints every endpoint and the test users, logs each
SIP message, and stops cleanly on Ctrl-C. A configuration error is one line on stderr
and exit status 2, before anything starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys

from reference.config import ConfigError, check_ports_free, default_config_text, load_config
from reference.stack import Stack

__all__ = ["main"]


async def _up(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        if args.state_dir:
            config = dataclasses.replace(config, state_dir=args.state_dir)
        nodes = None if args.nodes is None else [n.strip() for n in args.nodes.split(",") if n.strip()]
        stack = Stack(config, nodes=nodes)
        if nodes is not None:
            unknown = sorted(set(nodes) - set(stack.node_names()))
            if unknown:
                raise ConfigError(
                    f"--nodes: unknown node {unknown[0]!r} (nodes: {', '.join(stack.node_names())})"
                )
            if config.state_dir is None:
                raise ConfigError("--nodes: nodes in separate processes share --state-dir (the test PKI)")
        check_ports_free(config, only=nodes)
    except (ConfigError, ValueError) as exc:  # one line, before anything starts
        print(f"wimpu-ref: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        await stack.start()
    except (OSError, RuntimeError, ValueError) as exc:
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
    for user in stack.config.users:
        print(f"  user {user.username!r} (password {user.password!r}) registers as {user.identity}")
    print("Ctrl-C stops it.", flush=True)
    await stop.wait()
    print("stopping...", flush=True)
    await stack.stop()
    return 0


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
    sub.add_parser("config", help="print the default configuration (a starting point for --config)")
    up.add_argument("--verbose", action="store_true", help="log every SIP message in full")
    up.add_argument(
        "--nodes",
        help="run only these nodes, comma-separated (registrar, wwsf, s-cscf, i-cscf, ep-cscf1, ...); "
        "the others are reached at their configured ports",
    )
    args = parser.parse_args(argv)
    if args.command == "config":
        print(default_config_text(), end="")
        return 0
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
