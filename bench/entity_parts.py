"""Many live auth entities: seeded on the fake cloud, brought up with one verified change each,
and one change at a time to one of them while all are live.

Shared by ``bench_entities`` and ``bench_fleet``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from bench import raise_if_cancelling
from bench.fleet_parts import codes
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.simulator import SimulatorControl


async def seed(sim: SimulatorControl, locks: int, per_lock: int) -> dict[int, list[str]]:
    """Locks with keypad codes on them (put on the devices directly, nothing pending)."""
    pool = iter(codes(locks * per_lock))
    auths: dict[int, list[str]] = {}
    gate = asyncio.Semaphore(32)

    async def one_lock() -> None:
        async with gate:
            lock = (await sim.add_lock()).smartlock_id
            auths[lock] = [
                (await sim.add_auth(lock, name=f"code {i}", code=next(pool))).id
                for i in range(per_lock)
            ]

    await asyncio.gather(*(one_lock() for _ in range(locks)))
    return auths


class Changer:
    """Verified code changes through the facade, each with fresh codes."""

    def __init__(self, flow: NukiFlow, fresh_codes: int) -> None:
        self._flow = flow
        self._fresh: Iterator[int] = iter(codes(fresh_codes, first=611111))

    async def change(self, lock: int, auth_id: str) -> AuthOutcome:
        """One new keypad code. A call the busy server did not answer in time is sent again
        with the same request id: it attaches to its change."""
        code, request_id = next(self._fresh), uuid.uuid4().hex
        for _ in range(10):
            try:
                return await self._flow.update_auth(
                    lock, auth_id, {"code": code}, request_id=request_id
                )
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                raise_if_cancelling()
                continue
        raise RuntimeError(f"auth {auth_id}: no answer after 10 calls")


@dataclass
class BringUp:
    entities: int
    brought_up: int
    seconds: float
    # Auths per lock times the device delay, times the rounds of locks.
    floor_seconds: float


async def bring_up(
    changer: Changer,
    auths: dict[int, list[str]],
    *,
    concurrency: int,
    device_delay: float,
) -> BringUp:
    """One verified change per auth, one at a time per lock, ``concurrency`` locks at a time
    (a lock applies one operation at a time)."""
    failed = 0
    gate = asyncio.Semaphore(concurrency)

    async def lock_changes(lock: int, ids: list[str]) -> None:
        nonlocal failed
        async with gate:
            for auth_id in ids:
                outcome = await changer.change(lock, auth_id)
                failed += outcome.status is not OutcomeStatus.APPLIED

    started = time.monotonic()
    await asyncio.gather(*(lock_changes(lock, ids) for lock, ids in auths.items()))
    seconds = time.monotonic() - started
    entities = sum(len(ids) for ids in auths.values())
    per_lock = max((len(ids) for ids in auths.values()), default=0)
    rounds = -(-len(auths) // concurrency)
    return BringUp(
        entities=entities,
        brought_up=entities - failed,
        seconds=seconds,
        floor_seconds=per_lock * device_delay * rounds,
    )


async def open_entities(client: Client, task_queue: str) -> int:
    """How many auth entities are running on ``task_queue``."""
    counted = await client.count_workflows(
        f"TaskQueue = '{task_queue}' AND WorkflowType = 'NukiAuthEntity' "
        "AND ExecutionStatus = 'Running'"
    )
    return counted.count


async def time_changes(
    changer: Changer, auths: dict[int, list[str]], *, changes: int, device_delay: float, seed: int
) -> list[float]:
    """One change at a time to an entity chosen at random, all of them live: each one's time
    from call to verified outcome as a multiple of the device delay."""
    rng = random.Random(seed)
    ratios: list[float] = []
    for _ in range(changes):
        lock = rng.choice(list(auths))
        auth_id = rng.choice(auths[lock])
        t0 = time.monotonic()
        outcome = await changer.change(lock, auth_id)
        took = time.monotonic() - t0
        if outcome.status is not OutcomeStatus.APPLIED:
            raise RuntimeError(f"a change to a live entity ended {outcome.status.value}")
        ratios.append(took / device_delay)
    return ratios
