"""Run the wIMPU Registrar alone: ``python -m reference.nodes.wimpu_registrar``.

    python -m reference.nodes.wimpu_registrar --db registrar.db [--host H] [--port P]

Prints ``READY <base URL>`` on stdout once it listens (for supervisors and tests), and
stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from reference.nodes.wimpu_registrar.service import RegistrarService


async def _run(args: argparse.Namespace) -> int:
    service = RegistrarService(db_path=args.db, host=args.host, port=args.port)
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
    parser.add_argument("--db", required=True, help="SQLite database file (created if absent)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
