"""An activity heartbeats once half its heartbeat timeout has passed in the attempt, never
sooner: a call answered within it costs the server no heartbeat; a slower one is kept alive.

The attempt's start is set on the activity's info, so nothing here depends on how fast the
machine is: "long ago" and "just now" are hours apart."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from nukiflow.activities.fleet_activities import while_heartbeating
from nukiflow.activities.heartbeats import (
    attempt_seconds_left,
    heartbeat_through,
    heartbeat_wait,
    heartbeat_when_due,
    keep_alive,
)
from nukiflow.activities.polling import poll_until
from nukiflow.contracts.timing import PollTiming


def env_started(ago: timedelta) -> tuple[ActivityEnvironment, list[tuple[Any, ...]]]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, started_time=datetime.now(UTC) - ago)
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    return env, beats


def test_no_heartbeat_before_half_the_timeout() -> None:
    env, beats = env_started(timedelta(0))

    def ask() -> tuple[bool, float]:
        return heartbeat_when_due(3600, "progress"), heartbeat_wait(3600, 10)

    sent, wait = env.run(ask)
    assert not sent and beats == []
    # The loop sleeps until the first heartbeat is due, not its usual step.
    assert 1700 < wait <= 1800


def test_heartbeats_once_half_the_timeout_passed_then_at_the_usual_step() -> None:
    env, beats = env_started(timedelta(hours=1))

    def ask() -> tuple[bool, float]:
        return heartbeat_when_due(3600, "progress"), heartbeat_wait(3600, 10)

    assert env.run(ask) == (True, 10)
    assert beats == [("progress",)]


async def test_a_call_answered_within_half_the_timeout_sends_no_heartbeat() -> None:
    env, beats = env_started(timedelta(0))

    async def quick() -> str:
        await asyncio.sleep(0)
        return "done"

    async def wait_for_it() -> str:
        return await while_heartbeating(quick(), 0.01, heartbeat_timeout=3600)

    assert await env.run(wait_for_it) == "done"
    assert await env.run(heartbeat_through, quick(), 3600, "progress") == "done"
    assert beats == []


async def test_a_slow_call_heartbeats_with_its_details() -> None:
    """Past half the timeout the wait heartbeats; the call here ends only once it did."""
    env, beats = env_started(timedelta(hours=1))
    beaten = asyncio.Event()
    env.on_heartbeat = lambda *details: (beats.append(details), beaten.set())

    async def until_heartbeat() -> str:
        await beaten.wait()
        return "done"

    async def wait_for_it() -> str:
        return await while_heartbeating(
            until_heartbeat(), 0.01, heartbeat_timeout=3600, details={"round": 1}
        )

    assert await env.run(wait_for_it) == "done"
    assert beats[0] == ({"round": 1},)


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(hours=1)])
async def test_without_a_timeout_every_step_heartbeats_as_before(ago: timedelta) -> None:
    env, beats = env_started(ago)
    beaten = asyncio.Event()
    env.on_heartbeat = lambda *details: (beats.append(details), beaten.set())

    async def until_heartbeat() -> str:
        await beaten.wait()
        return "done"

    async def wait_for_it() -> str:
        return await while_heartbeating(until_heartbeat(), 0.01)

    assert await env.run(wait_for_it) == "done"
    assert beats[0] == ()


async def test_a_hanging_request_does_not_hold_back_the_heartbeat_due() -> None:
    """A request still unanswered when the first heartbeat falls due: it is sent on time (the
    request here answers only once it was), with the progress so far."""
    env, beats = env_started(timedelta(hours=1))
    beaten = asyncio.Event()
    env.on_heartbeat = lambda *details: (beats.append(details), beaten.set())

    async def hanging_read() -> str:
        await beaten.wait()
        return "read"

    # Half of 0.3 s passed long ago: the wait is a third of the timeout, then it heartbeats.
    assert await env.run(heartbeat_through, hanging_read(), 0.3, {"reads": 2}) == "read"
    assert beats[0] == ({"reads": 2},)


async def test_keep_alive_heartbeats_through_a_wait_the_loop_cannot_see() -> None:
    """A sleep (a Retry-After) or a hanging call between a loop's own heartbeats: the task
    beside the attempt sends the heartbeat when due, with the details as they are then."""
    env, beats = env_started(timedelta(hours=1))
    beaten = asyncio.Event()
    env.on_heartbeat = lambda *details: (beats.append(details), beaten.set())
    progress = {"reads": 1}

    async def attempt() -> None:
        async with keep_alive(0.3, lambda: (dict(progress),)):
            progress["reads"] = 2
            # Stands for a wait of unknown length that the attempt's own loop cannot break.
            await asyncio.wait_for(beaten.wait(), timeout=60)

    await env.run(attempt)
    assert beats[0] == ({"reads": 2},)


async def test_keep_alive_sends_nothing_for_an_attempt_ending_in_its_first_half() -> None:
    env, beats = env_started(timedelta(0))

    async def attempt() -> str:
        async with keep_alive(3600):
            await asyncio.sleep(0)
            return "done"

    assert await env.run(attempt) == "done"
    assert beats == []


async def test_a_poll_whose_read_hangs_is_kept_alive() -> None:
    """A read hanging up to the client's timeout, inside a poll: the poll's keeper heartbeats
    (the read here answers only once it did), with the poll's progress."""
    env, beats = env_started(timedelta(hours=1))
    beaten = asyncio.Event()
    env.on_heartbeat = lambda *details: (beats.append(details), beaten.set())

    async def read() -> bool:
        await asyncio.wait_for(beaten.wait(), timeout=60)
        return True

    async def poll() -> int:
        _, reads = await poll_until(
            read, bool, PollTiming(heartbeat_timeout_seconds=0.3), "the operation"
        )
        return reads

    assert await env.run(poll) == 1
    assert beats[0] == ({"reads": 0},)


def test_the_time_an_attempt_has_left_is_its_nearest_timeout() -> None:
    env, _ = env_started(timedelta(hours=1))
    now = datetime.now(UTC)
    env.info = dataclasses.replace(
        env.info, start_to_close_timeout=timedelta(hours=3), schedule_to_close_timeout=None
    )
    assert 7100 < env.run(attempt_seconds_left) <= 7200
    # The activity's schedule-to-close counts from its first scheduling, over all attempts.
    env.info = dataclasses.replace(
        env.info,
        scheduled_time=now - timedelta(hours=5),
        schedule_to_close_timeout=timedelta(hours=6),
    )
    assert 3500 < env.run(attempt_seconds_left) <= 3600
    env.info = dataclasses.replace(
        env.info, start_to_close_timeout=None, schedule_to_close_timeout=None
    )
    assert env.run(attempt_seconds_left) is None
