"""Run the wIMPU Registrar alone: ``python -m reference.nodes.wimpu_registrar``.

    python -m reference.nodes.wimpu_registrar --state-dir DIR [--db registrar.db | --db postgresql://...]
                                              [--db-password-file FILE] [--config STACK.toml]
                                              [--host H] [--port P]

The store (``--db``) is a SQLite file (created if absent), or the ``postgresql://`` URI of a
database that several registrar processes share (without its password: ``--db-password-file``,
or libpq's ``PGPASSWORD``/``PGPASSFILE``). Without ``--db``: the configuration's ``[registrar]
store``, else ``DIR/registrar.db``.

It speaks HTTPS with mutual TLS only: its server certificate and the client certificates
of the nodes allowed to call it come from the test PKI in ``DIR/pki`` (shared with the
other nodes of the stack), and what each may do from the stack configuration (the
reference profile by default; ``reference.stack_access``). Prints ``READY <base URL>`` on
stdout once it listens (for supervisors and tests), and stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys

from reference.nodes.wimpu_registrar.service import RegistrarService


async def _run(args: argparse.Namespace) -> int:
    from reference.config import ConfigError, load_config
    from reference.stack import Stack

    try:
        config = dataclasses.replace(load_config(args.config), state_dir=args.state_dir, host=args.host)
        stack = Stack(config, nodes=["registrar"])  # its PKI, client certificates and access policy
        if args.db is not None:
            db, password_file = args.db, args.db_password_file
        else:
            db = config.registrar_store or str(stack.state / "registrar.db")
            password_file = args.db_password_file or config.registrar_password_file
        service = RegistrarService(
            db_path=db,
            db_password_file=password_file,
            host=args.host,
            port=args.port,
            tls=stack.registrar.tls,
            access=stack.access,
        )
    except (ConfigError, ValueError, OSError) as exc:
        print(f"wimpu-registrar: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        await service.start()
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        print(f"wimpu-registrar: cannot start: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"READY {service.base_url}", flush=True)
    await stop.wait()
    await service.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reference.nodes.wimpu_registrar",
        description="the wIMPU Registrar (W6/W7 over HTTP) alone",
    )
    parser.add_argument(
        "--db",
        help="SQLite database file (created if absent) or postgresql:// URI without password "
        "(default: the configuration's [registrar] store, else STATE_DIR/registrar.db)",
    )
    parser.add_argument("--db-password-file", help="file whose first line is the PostgreSQL password")
    parser.add_argument("--state-dir", required=True, help="the stack's state directory (test PKI in pki/)")
    parser.add_argument("--config", help="the stack TOML file (default: the reference profile)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
