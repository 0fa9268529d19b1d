"""Fault injection of the suite's in-process runs: a registrar that stops answering (TP_WIMPU_REG_013).

:meth:`RegistrarService.hold` leaves every request unanswered on an open connection, as a hung
process does; :meth:`RegistrarService.release` answers them, in order, and serves again. Reached by
no API: only the process that runs the service can call it.
"""

from __future__ import annotations

import asyncio

import aiohttp

from reference.nodes.wimpu_registrar import RegistrarService


async def test_a_held_request_is_answered_only_once_released(service: RegistrarService) -> None:
    async with aiohttp.ClientSession() as session:

        async def health() -> int:
            async with session.get(f"{service.base_url}/health") as answer:
                return answer.status

        assert await health() == 200
        service.hold()
        service.hold()  # idempotent
        held = asyncio.ensure_future(health())
        done, _ = await asyncio.wait({held}, timeout=0.5)
        assert not done, "the held registrar answered"
        service.release()
        assert await asyncio.wait_for(held, 10) == 200
        assert await health() == 200


async def test_stopping_a_held_registrar_releases_its_requests(service: RegistrarService) -> None:
    async with aiohttp.ClientSession() as session:
        service.hold()
        held = asyncio.ensure_future(session.get(f"{service.base_url}/health"))
        await asyncio.sleep(0.2)
        stopping = asyncio.ensure_future(service.stop())
        answer = await asyncio.wait_for(held, 10)  # not aiohttp's 60 s shutdown timeout
        assert answer.status == 200
        answer.release()
        await asyncio.wait_for(stopping, 10)
