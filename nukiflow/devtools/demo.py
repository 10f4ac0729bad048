"""Internal: `nukiflow demo`: the forum case end to end, on an embedded stack started for the
occasion.

A user changed one keypad code five times in quick succession through the Nuki Web API. Four
requests answered 204, the fifth 423 — and afterwards the lock held neither the last code that
was answered 204 nor the last one sent: one accepted update was silently lost.

1. A plain client (``activities.nuki_client.NukiClient``, no nukiflow) replays that against the
   fake Nuki cloud with its lost-update fault on (the 4th accepted update of the auth is lost).
2. nukiflow sends the same five changes through the auth's entity workflow. The fake cloud
   drops nukiflow's first write too; nukiflow notices on read-back and writes again. Every change
   gets its outcome (applied or superseded) and the final code is verified: 555555.

The demo runs Temporal in memory on free ports, the fake cloud in-process with a short device
delay (0.4 s), and a worker; it stops all of it afterwards (``--keep-running`` keeps it up so
the printed Temporal UI link can be opened). The codes are the demo's own, so it prints them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from rich.console import Console

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError, NukiHTTPError
from nukiflow.cli.console import (
    print_json,
    stderr_console,
    stdout_console,
    ui_workflow_url,
    waiting,
)
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.contracts.timing import PollTiming, RetryTiming, WorkflowTiming
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.devtools.stack import EmbeddedStack, StackOptions
from nukiflow.devtools.temporal_server import DevError
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults, SimSettings
from nukiflow.temporal.codec import Keyring

CODES = (555551, 555552, 555553, 555554, 555555)
START_CODE = 545454
AUTH_NAME = "Forum user"
DEVICE_DELAY = 0.4
# The forum user's requests came one right after the other; nukiflow's callers too.
CHANGE_SPACING = 0.02
SETTLE_TIMEOUT = 30.0
TASK_QUEUE = "nukiflow-demo"
NAMESPACE = "default"

# Polling and back-off scaled to the demo's 0.4 s device delay.
DEMO_TIMING = WorkflowTiming(
    poll=PollTiming(
        fast_window_seconds=10.0,
        fast_first_interval_seconds=0.1,
        fast_max_interval_seconds=0.25,
        cold_pace_seconds=1.0,
        slow_initial_interval_seconds=1.0,
        slow_max_interval_seconds=2.0,
        heartbeat_timeout_seconds=5.0,
    ),
    retry=RetryTiming(initial_interval_seconds=0.2, backoff=1.5, max_interval_seconds=1.0),
)


@dataclass
class DemoOptions:
    json_output: bool = False
    keep_running: bool = False
    temporal_port: int = 0
    ui_port: int = 0
    # Set (by a signal) to end --keep-running.
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class RawRun(BaseModel):
    """What the plain client saw."""

    codes: list[int]
    statuses: list[int]
    # The code the Nuki API lists once every operation of the auth finished.
    final_code: int | None
    last_accepted_code: int | None


class NukiflowChange(BaseModel):
    code: int
    outcome: AuthOutcome


class NukiflowRun(BaseModel):
    codes: list[int]
    outcomes: list[dict[str, Any]]
    # Read back from the Nuki API after the last change was applied.
    final_code: int | None
    verified: bool
    workflow_id: str
    ui_url: str | None


class DemoResult(BaseModel):
    raw: RawRun
    nukiflow: NukiflowRun

    @property
    def ok(self) -> bool:
        return self.nukiflow.verified and self.nukiflow.final_code == CODES[-1]


async def _settled_code(plain: NukiClient, smartlock_id: int, auth_id: str) -> int | None:
    """The auth's code once no operation is pending on it any more."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        auth = await plain.get_auth(smartlock_id, auth_id)
        if auth.operation_id is None or time.monotonic() > deadline:
            return auth.code
        await asyncio.sleep(0.1)


async def _raw_run(
    console: Console | None, plain: NukiClient, smartlock_id: int, auth_id: str
) -> RawRun:
    statuses: list[int] = []
    for code in CODES:
        try:
            await plain.update_auth(
                smartlock_id, auth_id, SmartlockAuthUpdate(name=AUTH_NAME, code=code)
            )
            statuses.append(204)
        except NukiHTTPError as exc:
            statuses.append(exc.status)
        if console is not None:
            status = statuses[-1]
            word = "accepted" if status == 204 else ("locked" if status == 423 else "refused")
            colour = "green" if status == 204 else "yellow"
            console.print(f"     {code}  [{colour}]{status} {word}[/]")
    accepted = [code for code, status in zip(CODES, statuses, strict=True) if status == 204]
    if console is not None:
        async with waiting("     waiting until the lock applied what was accepted"):
            final = await _settled_code(plain, smartlock_id, auth_id)
    else:
        final = await _settled_code(plain, smartlock_id, auth_id)
    return RawRun(
        codes=list(CODES),
        statuses=statuses,
        final_code=final,
        last_accepted_code=accepted[-1] if accepted else None,
    )


async def _nukiflow_run(
    flow: NukiFlow, plain: NukiClient, smartlock_id: int, auth_id: str, ui_url: str | None
) -> tuple[NukiflowRun, list[NukiflowChange]]:
    tasks = []
    for code in CODES:
        tasks.append(asyncio.create_task(flow.update_auth(smartlock_id, auth_id, {"code": code})))
        await asyncio.sleep(CHANGE_SPACING)
    outcomes = await asyncio.gather(*tasks)
    changes = [NukiflowChange(code=c, outcome=o) for c, o in zip(CODES, outcomes, strict=True)]
    final = await _settled_code(plain, smartlock_id, auth_id)
    last = outcomes[-1]
    workflow_id = auth_workflow_id(smartlock_id, auth_id)
    run = NukiflowRun(
        codes=list(CODES),
        outcomes=[{"code": c.code, **c.outcome.model_dump(mode="json")} for c in changes],
        final_code=final,
        verified=last.status is OutcomeStatus.APPLIED and final == CODES[-1],
        workflow_id=workflow_id,
        ui_url=None if ui_url is None else ui_workflow_url(ui_url, NAMESPACE, workflow_id),
    )
    return run, changes


def _print_raw_result(console: Console, raw: RawRun) -> None:
    if raw.final_code == raw.last_accepted_code:
        console.print(f"   Stored afterwards: {raw.final_code} (this time no update was lost).")
    else:
        console.print(
            f"   Stored afterwards: [bold red]{raw.final_code}[/] — not "
            f"{raw.last_accepted_code}, the last code answered 204"
            + ("" if raw.final_code == CODES[-1] else f", and not {CODES[-1]}, the last one sent")
            + ". The client cannot tell."
        )
    console.print()


def _print_nukiflow(console: Console, changes: list[NukiflowChange]) -> None:
    for change in changes:
        outcome = change.outcome
        writes = f"{outcome.writes} write{'s' if outcome.writes != 1 else ''}"
        if outcome.status is OutcomeStatus.APPLIED:
            extra = f"verified on read-back, {writes}"
            if outcome.writes > 1:
                extra += ": the cloud lost one and nukiflow wrote it again"
            console.print(f"     {change.code}  [green]applied[/] ({extra})")
        elif outcome.status is OutcomeStatus.SUPERSEDED:
            by = f"change #{outcome.superseded_by_change}"
            how = (
                f"written, but the cloud lost it and read-back showed the old code; {by} "
                "was written instead"
                if outcome.writes
                else f"replaced by {by} before it was written"
            )
            console.print(f"     {change.code}  [cyan]superseded[/] ({how})")
        else:
            console.print(f"     {change.code}  [red]{outcome.status.value}[/]: {outcome.reason}")


async def demo(
    settings: Settings,
    options: DemoOptions,
    *,
    done: Callable[[DemoResult], None] | None = None,
) -> DemoResult:
    """Run the demo; prints as it goes unless ``options.json_output``. ``done`` hears the
    result before ``--keep-running`` waits."""
    console = None if options.json_output else stdout_console()
    token = secrets.token_hex(16)
    # Its own Temporal, namespace and task queue, whatever NUKIFLOW_* say.
    settings = settings.model_copy(
        update={"task_queue": TASK_QUEUE, "temporal_namespace": NAMESPACE}
    )
    stack = EmbeddedStack(
        settings,
        # Temporal lives in memory for the demo only: a throwaway key is enough.
        Keyring.generate("demo"),
        StackOptions(
            state_dir=None,
            temporal_port=options.temporal_port,
            ui_port=options.ui_port,
            nuki_port=0,
            fake_cloud=True,
            sim_token=token,
            sim_locks=0,
            sim_settings=SimSettings(device_delay=DEVICE_DELAY, action_time=0.5),
            codec_port=0,
            graceful_shutdown=timedelta(seconds=1),
        ),
    )
    if console is not None:
        console.print(
            "[bold]nukiflow demo[/] — the forum case: one keypad code changed five times in "
            "quick succession"
        )
    async with contextlib.AsyncExitStack() as exits:
        if console is not None:
            async with waiting("Starting Temporal (in memory), the fake Nuki cloud and a worker"):
                await exits.enter_async_context(stack)
        else:
            await exits.enter_async_context(stack)
        assert stack.simulator is not None and stack.client is not None
        base_url = stack.simulator.base_url
        control = await exits.enter_async_context(SimulatorControl(base_url, token))
        plain = await exits.enter_async_context(NukiClient(token, base_url))
        lock = await control.add_lock(name="Front door")
        auth = await control.add_auth(lock.smartlock_id, name=AUTH_NAME, code=START_CODE)
        smartlock_id, auth_id = lock.smartlock_id, auth.id
        await control.set_faults(Faults(lost_update_nth=[4]), smartlock_id)
        if console is not None:
            console.print(
                f"  Fake Nuki cloud {base_url}: smartlock {smartlock_id}, auth {auth_id}; the "
                f"lock applies one change every {DEVICE_DELAY} s and [bold]loses the 4th update "
                "it accepts[/] for this auth."
            )
            console.print(f"  Temporal {stack.temporal.address}, UI {stack.ui_url}")
            console.print()
            console.print(
                "[bold]1. A plain client[/] sends the five codes one right after the other:"
            )
        raw = await _raw_run(console, plain, smartlock_id, auth_id)
        if console is not None:
            _print_raw_result(console, raw)

        # nukiflow's first write will be lost as well: the next update the cloud accepts.
        accepted = raw.statuses.count(204)
        await control.set_faults(Faults(lost_update_nth=[accepted + 1]), smartlock_id)
        flow = NukiFlow(
            stack.client,
            task_queue=settings.task_queue,
            timing=DEMO_TIMING,
            max_rewrites=settings.max_rewrites,
        )
        if console is not None:
            console.print(
                "[bold]2. nukiflow[/] sends the same five changes (and the cloud loses "
                "nukiflow's first write, too):"
            )
            async with waiting("     waiting for the verified outcome of every change"):
                run, changes = await _nukiflow_run(flow, plain, smartlock_id, auth_id, stack.ui_url)
            _print_nukiflow(console, changes)
            colour = "green" if run.verified else "red"
            mark = "✓ verified" if run.verified else "✗ NOT the last code sent"
            console.print(f"   Stored afterwards: [bold {colour}]{run.final_code}[/] {mark}")
            if run.ui_url:
                console.print(f"   Temporal UI: [link={run.ui_url}]{run.ui_url}[/link]")
        else:
            run, changes = await _nukiflow_run(flow, plain, smartlock_id, auth_id, stack.ui_url)
        result = DemoResult(raw=raw, nukiflow=run)
        if options.json_output:
            print_json(result.model_dump(mode="json"))
        if done is not None:
            done(result)
        if options.keep_running:
            stderr_console().print(
                "The stack keeps running so the link works; Ctrl-C stops it.", style="dim"
            )
            await options.stop.wait()
        return result
    raise AssertionError("unreachable")  # pragma: no cover


async def run_demo(settings: Settings, options: DemoOptions) -> int:
    """The ``nukiflow demo`` command: 0 only when nukiflow's verified final code is the last
    one sent. Ctrl-C, SIGTERM and SIGHUP stop it cleanly (children stopped, nothing left)."""
    # The demo tells the story itself; the workflow's warning about the lost write would
    # repeat it in log format.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[int] = []
    result: list[DemoResult] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if options.keep_running and result:
            options.stop.set()  # the demo is done: just end --keep-running
        else:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal, sig)
    try:
        result.append(await demo(settings, options, done=result.append))
    except asyncio.CancelledError:
        if not received:
            raise
        stderr_console().print("Interrupted; everything the demo started is stopped.")
        return 128 + received[0]
    except (DevError, NukiError) as exc:
        stderr_console().print(f"[red]nukiflow demo:[/] {exc}", highlight=False)
        return 1
    return 0 if result[-1].ok else 1
