"""What an operator sees of nukiflow's workflows through Temporal's API (what the Temporal UI
shows): current details that say what a workflow does and why it waits, static summaries,
statuses the list filters can use. Every situation is provoked by the fake cloud's faults, and
every wait is for an event in the workflow's history."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from rich.console import Console
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from typer.testing import CliRunner, Result

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.cli import app, ui_base_url
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts import statuses
from nukiflow.contracts.access import GrantStatus
from nukiflow.contracts.action import ActionName, lock_workflow_id
from nukiflow.contracts.auth import AuthOutcome, AuthPatch, OutcomeStatus
from nukiflow.contracts.entity import AuthEntityView, auth_workflow_id
from nukiflow.contracts.names import (
    LOOK_AUTH_ACTIVITY,
    REVOKE_AUTH_ACTIVITY,
    ROLLOUT_PROGRESS_QUERY,
    STATE_QUERY,
    UNMANAGED_AUTH_SIGNAL,
)
from nukiflow.contracts.rollout import (
    ItemStatus,
    RolloutInput,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
    RolloutProgress,
    RolloutState,
)
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.devtools.banner import DevBanner, print_dev_banner
from nukiflow.devtools.ui_address import record_ui_address
from nukiflow.fleet import Fleet
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.conftest import UI, StartWorker, sim_settings
from tests.grant_support import FAR, end_soon
from tests.test_access import FAST_GRANT, OVERDUE_SOON
from tests.test_cli import status_showing
from tests.test_drift_ledger import LOCK, settle, sighting, start_ledger

CODE = 535353


async def cli(env: dict[str, str], *args: str) -> Result:
    """The command line, in process (as tests/test_cli.py runs it)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def details(handle: WorkflowHandle) -> str:  # type: ignore[type-arg]
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def looks_done(handle: WorkflowHandle) -> int:  # type: ignore[type-arg]
    """How many looks of the entity's watch completed (from its history)."""
    scheduled: set[int] = set()
    done = 0
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == LOOK_AUTH_ACTIVITY:
                scheduled.add(event.event_id)
        elif (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and event.activity_task_completed_event_attributes.scheduled_event_id in scheduled
        ):
            done += 1
    return done


async def until_looked(handle: WorkflowHandle) -> None:  # type: ignore[type-arg]
    """Until the watch's first look is in the history (bounded; it comes after one fast
    polling window of the test timing)."""
    for _ in range(600):
        if await looks_done(handle):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the entity never looked why its change waits")


async def _keypad(sim: SimulatorControl) -> tuple[int, str]:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="Cleaner", code=555551)
    return lock.smartlock_id, auth.id


async def test_a_change_to_an_offline_lock_says_why_it_waits(
    cli_env: dict[str, str], flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(offline_mode="hold"), smartlock_id)
    await sim.set_online(smartlock_id, False)
    await start_worker()
    update = await flow.start_update_auth(
        smartlock_id,
        auth_id,
        {
            "code": CODE,
            "allowed_week_days": 124,
            "allowed_from_time": 480,
            "allowed_until_time": 1080,
        },
        deadline=timedelta(minutes=5),
    )
    assert not isinstance(update, AuthOutcome), update.reason
    handle = flow.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
    await until_looked(handle)
    text = await details(handle)
    assert "**Cleaner** · keypad code" in text
    assert "change #1 update (weekdays, times, code)" in text
    assert "waiting for the lock to apply it" in text
    assert "the lock is offline (seen since" in text
    assert "last checked" in text and "deadline 20" in text
    assert "**Pending changes:** 1 (including the one under way)" in text
    assert "code ****** · enabled · no remote · mon-fri · 08:00-18:00 (lock time)" in text
    assert str(CODE) not in text
    view = await handle.query(STATE_QUERY, result_type=AuthEntityView)
    assert view.under_way == 1 and view.pending_changes == 0
    assert view.why_waiting is not None and "offline" in view.why_waiting
    shown = await cli(cli_env, "auth", "show", str(smartlock_id), auth_id)
    assert "Changes: 1 accepted, 1 pending" in shown.stdout
    assert "Why it waits: the lock is offline" in shown.stdout
    assert "/user-metadata" in shown.stdout
    await sim.set_online(smartlock_id, True)
    outcome = await update.result()
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    text = await details(handle)
    assert "**Now:**" not in text and "**Pending changes:** 0" in text
    assert "**Verified on the lock (read back" in text and "as desired" in text


async def test_a_change_behind_a_busy_auth_says_423(
    flow: NukiFlow, sim: SimulatorControl, nuki: NukiClient, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    # Someone else's operation keeps the auth locked (423) until the test has read what the
    # look found: the device takes it up only once the test lifts the pause.
    await sim.set_settings(sim_settings(lock_race_writes=1))
    await sim.set_faults(Faults(device_paused=True), smartlock_id)
    await nuki.update_auth(smartlock_id, auth_id, SmartlockAuthUpdate(name="other", code=555553))
    await start_worker()
    update = await flow.start_update_auth(smartlock_id, auth_id, {"code": CODE})
    assert not isinstance(update, AuthOutcome), update.reason
    handle = flow.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
    await until_looked(handle)
    text = await details(handle)
    assert "writing (since" in text
    assert "device busy: an operation on this auth has been pending since" in text
    assert "writes get 423" in text
    await sim.set_faults(Faults(), smartlock_id)
    outcome = await update.result()
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason


async def test_a_create_that_could_not_create_is_a_failed_workflow(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker, task_queue: str
) -> None:
    lock = await sim.add_lock()
    await sim.add_auth(lock.smartlock_id, name="Taken", code=CODE)
    await start_worker()
    outcome = await flow.create_auth(lock.smartlock_id, name="Second", code=CODE)
    # The caller still gets the outcome, with the reason (409: the code is on the lock).
    assert outcome.status is OutcomeStatus.FAILED and outcome.reason
    assert outcome.workflow_id is not None
    handle = flow.client.get_workflow_handle(outcome.workflow_id)
    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.FAILED
    assert await description.static_summary() == (
        f"create keypad code 'Second' on smartlock {lock.smartlock_id}"
    )
    query = (
        f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Failed' "
        f"AND NukiSmartlockId = {lock.smartlock_id}"
    )
    for _ in range(100):  # visibility is eventually consistent
        found = [w.id async for w in flow.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [outcome.workflow_id]
    # Asked again with the same request id: the same outcome, nothing created.
    again = await flow.create_auth(
        lock.smartlock_id, name="Second", code=CODE, request_id=outcome.request_id
    )
    assert again.status is OutcomeStatus.FAILED and again.reason == outcome.reason


async def test_a_rollout_shows_its_failed_items_without_being_asked(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    lock = await sim.add_lock()
    auths = [
        (await sim.add_auth(lock.smartlock_id, name=f"a{i}", code=c)).id
        for i, c in enumerate((611111, 611112))
    ]
    forbidden = await sim.add_lock()
    other = await sim.add_auth(forbidden.smartlock_id, name="b", code=611113)
    await sim.set_faults(Faults(forbidden=True), forbidden.smartlock_id)
    await start_worker()
    items = [
        RolloutItem(
            op=RolloutOp.UPDATE,
            smartlock_id=lock.smartlock_id,
            auth_id=a,
            patch=AuthPatch(name="renamed"),
        )
        for a in auths
    ]
    items.append(
        RolloutItem(
            op=RolloutOp.UPDATE,
            smartlock_id=forbidden.smartlock_id,
            auth_id=other.id,
            patch=AuthPatch(name="renamed"),
        )
    )
    options = RolloutOptions(
        heartbeat_seconds=2,
        item_wait_seconds=3,
        item_poll_initial_seconds=0.2,
        item_poll_max_seconds=0.5,
        drain_seconds=5,
    )
    rollout = await Fleet(flow).apply_rollout(
        RolloutPlan(name="renames", items=items, options=options)
    )
    report = await rollout.result()
    assert report.totals.failed == 1
    handle = rollout.handle
    description = await handle.describe()
    assert await description.static_summary() == ("rollout renames: 3 items (3 updates) on 2 locks")
    # The UI's query button sends no argument: the items not applied, with their reasons.
    progress = await handle.query(ROLLOUT_PROGRESS_QUERY, result_type=RolloutProgress)
    assert [(i.index, i.status) for i in progress.items] == [(2, ItemStatus.FAILED)]
    assert progress.items[0].reason
    text = await details(handle)
    assert "**Latest failures** (1 of 1" in text and "item 2: update auth" in text
    # The failed item's activity failed: the timeline draws it red.
    failed = [
        event
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert len(failed) == 1
    # The input reads as a plan.
    events = [event async for event in handle.fetch_history_events()]
    payload = events[0].workflow_execution_started_event_attributes.input.payloads[0]
    (decoded,) = await flow.client.data_converter.decode([payload], [RolloutInput])
    assert decoded.plan == "renames: 3 items (3 updates) on 2 locks"


async def test_status_links_answer_the_questions_in_the_ui(
    cli_env: dict[str, str],
    flow: NukiFlow,
    sim: SimulatorControl,
    start_worker: StartWorker,
) -> None:
    """The list links ``nukiflow status`` prints filter what their question names: a failed
    change on a running entity and a create that could not create are both under "failed"."""
    smartlock_id, auth_id = await _keypad(sim)
    await sim.add_auth(smartlock_id, name="Taken", code=CODE)
    await sim.set_faults(Faults(forbidden=True), smartlock_id)
    await start_worker()
    refused = await flow.update_auth(smartlock_id, auth_id, {"name": "x"})
    assert refused.status is OutcomeStatus.FAILED
    await sim.set_faults(Faults(), smartlock_id)
    failed_create = await flow.create_auth(smartlock_id, name="Second", code=CODE)
    assert failed_create.status is OutcomeStatus.FAILED
    entity_id = auth_workflow_id(smartlock_id, auth_id)
    listed = await status_showing(
        cli_env,
        lambda shown: any(w["workflow_id"] == entity_id for w in shown["workflows"]),
        "--smartlock",
        str(smartlock_id),
    )
    links = listed["ui_links"]
    row = next(
        w
        for w in listed["workflows"]
        if w["workflow_id"] == auth_workflow_id(smartlock_id, auth_id)
    )
    assert row["ui_url"] == (
        f"{UI}/namespaces/default/workflows/{row['workflow_id']}/{row['run_id']}/user-metadata"
    )
    assert set(links) == {"pending", "failed", "drifted", "overdue revocations"}
    url = urlsplit(links["failed"])
    assert f"{url.scheme}://{url.netloc}" == UI
    assert url.path == "/namespaces/default/workflows"
    (query,) = parse_qs(url.query)["query"]
    expected = {auth_workflow_id(smartlock_id, auth_id), failed_create.workflow_id}
    for _ in range(100):  # visibility is eventually consistent
        found = {w.id async for w in flow.client.list_workflows(query)}
        if found == expected:
            break
        await asyncio.sleep(0.1)
    assert found == expected
    (pending,) = parse_qs(urlsplit(links["pending"]).query)["query"]
    # Nothing is pending, once visibility shows both as they ended (a moment after they did).
    for _ in range(100):
        still = [w.id async for w in flow.client.list_workflows(pending)]
        if not still:
            break
        await asyncio.sleep(0.1)
    assert still == []
    table = await cli(cli_env, "status", "--smartlock", str(smartlock_id))
    assert "In the Temporal UI:" in table.stdout and links["failed"] in table.stdout


async def test_the_cli_links_to_the_ui_dev_recorded(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in cli_env.items() if k != "NUKIFLOW_UI_URL"}
    settings = Settings(
        temporal_address=env["NUKIFLOW_TEMPORAL_ADDRESS"], state_dir=Path(env["NUKIFLOW_STATE_DIR"])
    )
    # Without a record: the dev server's convention (gRPC port + 1000).
    port = int(settings.temporal_address.rpartition(":")[2])
    assert ui_base_url(settings) == f"http://localhost:{port + 1000}"
    settings.state_dir.mkdir(parents=True)
    record_ui_address(settings.state_dir, settings.temporal_address, "http://localhost:9999")
    assert ui_base_url(settings) == "http://localhost:9999"
    # A record for another Temporal is not this one's.
    other = settings.model_copy(update={"temporal_address": "localhost:1"})
    assert ui_base_url(other) == "http://localhost:1001"
    # NUKIFLOW_UI_URL wins.
    assert ui_base_url(settings.model_copy(update={"ui_url": "http://ui.example/"})) == (
        "http://ui.example"
    )


def test_the_dev_banner_exports_the_ui_address() -> None:
    out = io.StringIO()
    banner = DevBanner(
        temporal_address="localhost:7300",
        namespace="default",
        task_queue="nukiflow",
        ui_url="http://localhost:8999",
        nuki_url="http://127.0.0.1:8080",
        nuki_token="t",
        fake_cloud=True,
        locks=(1,),
        codec_endpoint=None,
        state_dir=None,
    )
    print_dev_banner(Console(file=out, width=300), banner)
    assert (
        "export NUKIFLOW_TEMPORAL_ADDRESS=localhost:7300 NUKIFLOW_UI_URL=http://localhost:8999"
        in (out.getvalue())
    )


async def test_an_entity_input_never_shows_a_state_that_is_no_longer_desired(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    lock = await sim.add_lock()
    await start_worker()
    created = await flow.create_auth(lock.smartlock_id, name="Guest", code=CODE)
    assert created.status is OutcomeStatus.APPLIED and created.auth_id is not None
    changed = await flow.update_auth(lock.smartlock_id, created.auth_id, {"code": 565656})
    assert changed.status is OutcomeStatus.APPLIED
    handle = flow.client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, created.auth_id))
    description = await handle.describe()
    assert await description.static_summary() == (
        f"keypad code 'Guest' {created.auth_id} on smartlock {lock.smartlock_id}"
    )
    events = [event async for event in handle.fetch_history_events()]
    payload = events[0].workflow_execution_started_event_attributes.input.payloads[0]
    # What the UI shows once the codec server decrypted it: ids, settings, an opaque memory.
    (decoded,) = await flow.client.data_converter.payload_codec.decode([payload])  # type: ignore[union-attr]
    shown = json.loads(decoded.data)
    assert shown["memory"] is None and isinstance(shown["carried_memory"], str)
    assert "535353" not in decoded.data.decode() and "code" not in decoded.data.decode()
    # The state lives in the details: the code changed, masked.
    text = await details(handle)
    assert "**Guest** · keypad code" in text and "code ******" in text


async def test_the_lock_workflow_names_the_lock_once_an_action_read_it(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    lock = await sim.add_lock(name="Front *door*", type=4)
    await start_worker()
    outcome = await flow.action(lock.smartlock_id, ActionName.UNLOCK)
    assert outcome.ok, outcome.reason
    handle = flow.client.get_workflow_handle(lock_workflow_id(lock.smartlock_id))
    # The summary was fixed before anything was read: the id alone.
    description = await handle.describe()
    assert await description.static_summary() == f"actions on smartlock {lock.smartlock_id}"
    # The details name the lock in words, its name escaped.
    text = await details(handle)
    assert text.startswith(
        f"**Front \\*door\\*** (Smart Lock 3.0/4) · smartlock `{lock.smartlock_id}` · "
        "**status:** confirmed"
    ), text
    assert (await flow.lock_state(lock.smartlock_id)).lock_name == "Front *door*"


async def test_a_grant_input_names_what_started_it_and_its_details_the_window_now(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    await start_worker()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    granted_end, new_end = now + timedelta(hours=2), now + timedelta(hours=5)
    grant = await Fleet(flow, grant_timing=FAST_GRANT).grant_access(
        lock, name="guest", code=555125, start=now - timedelta(hours=1), end=granted_end
    )
    await grant.created()
    extended = await grant.extend(new_end)
    # The state query, the update's answer and the details: the window as it stands now.
    assert extended.window.allowed_until_date == new_end
    assert extended.granted_until == granted_end
    assert (await grant.state()).window.allowed_until_date == new_end
    text = await details(grant.handle)
    assert f"to {new_end:%Y-%m-%d %H:%M} UTC" in text
    assert f"end moved by an extension (granted until {granted_end:%Y-%m-%d %H:%M} UTC)" in text
    # The input, as the UI shows it decrypted: what started the grant, named so.
    events = [event async for event in grant.handle.fetch_history_events()]
    payload = events[0].workflow_execution_started_event_attributes.input.payloads[0]
    (decoded,) = await flow.client.data_converter.payload_codec.decode([payload])  # type: ignore[union-attr]
    shown = json.loads(decoded.data)
    assert set(shown) >= {"started_with", "carried_memory"} and "request" not in shown
    assert shown["memory"] is None and shown["carried_memory"] is None
    started_end = datetime.fromisoformat(shown["started_with"]["window"]["allowed_until_date"])
    assert started_end == granted_end
    assert (await grant.revoke(wait=True)).status is GrantStatus.REVOKED


async def test_an_overdue_revocation_counts_the_attempt_temporal_runs(
    cli_env: dict[str, str], flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    """The workflow counts the attempts of revocations that ended; the command line adds the
    attempt Temporal runs now, so the count is never 0 while attempt 5 is under way."""
    lock = (await sim.add_lock()).smartlock_id
    await start_worker()
    now = datetime.now(UTC).replace(microsecond=0)
    grant = await Fleet(flow, grant_timing=OVERDUE_SOON).grant_access(
        lock,
        name="guest",
        code=555124,
        start=now - timedelta(hours=1),
        # Far while the code is created, then brought near (see tests/grant_support.py).
        end=now + FAR,
    )
    await grant.created()
    # No delete may land from the moment the end is near, however late the lock goes offline:
    # until then the lock accepts deletes and never applies them.
    await sim.set_faults(Faults(ghost_delete_nth=list(range(1, 100))), lock)
    await end_soon(grant)
    await sim.set_online(lock, False)
    await sim.set_faults(Faults(offline_mode="drop"), lock)
    attempt = 0
    for _ in range(400):  # until Temporal records a second attempt of the revocation
        description = await grant.handle.describe()
        attempt = max(
            (
                p.attempt
                for p in description.raw_description.pending_activities
                if p.activity_type.name == REVOKE_AUTH_ACTIVITY
            ),
            default=0,
        )
        if attempt >= 2:
            break
        await asyncio.sleep(0.05)
    assert attempt >= 2
    for _ in range(400):  # until the grant recorded the revocation overdue
        description = await grant.handle.describe()
        if description.typed_search_attributes.get(sa.STATUS) == "revocation_overdue":
            break
        await asyncio.sleep(0.05)
    shown = json.loads((await cli(cli_env, "access", "show", grant.id, "--json")).stdout)
    assert shown["revocation_attempts"] >= 2
    text = await details(grant.handle)
    assert "**Access** guest · keypad code on smartlock" in text
    assert "**Now:** the code is still on the lock past the window's end" in text
    assert "**Window:** " in text and "**Revocation overdue since** " in text
    assert "555124" not in text
    await sim.set_online(lock, True)
    result = await grant.result()
    assert result.revocation_attempts >= 2


async def test_a_create_for_an_offline_lock_says_why_it_waits(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    lock = await sim.add_lock()
    await sim.set_faults(Faults(offline_mode="hold"), lock.smartlock_id)
    await sim.set_online(lock.smartlock_id, False)
    await start_worker()
    handle = await flow.start_create_auth(
        lock.smartlock_id,
        name="Night shift",
        code=CODE,
        allowed_week_days=3,
        deadline=timedelta(minutes=5),
    )
    assert not isinstance(handle, AuthOutcome), handle.reason
    await until_looked(handle)
    text = await details(handle)
    assert "**Night shift** · new keypad code on smartlock" in text
    assert "the lock is offline (seen since" in text
    assert "code ****** · enabled · no remote · sat,sun" in text and str(CODE) not in text
    await sim.set_online(lock.smartlock_id, True)
    outcome = await handle.result()
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    text = await details(handle)
    assert "**Outcome:** applied" in text and outcome.auth_id is not None
    assert f"`{outcome.auth_id}`" in text


async def test_a_drift_ledger_names_the_unmanaged_auths(
    temporal_client: Client, task_queue: str, start_worker: StartWorker
) -> None:
    await start_worker()
    handle = await start_ledger(temporal_client, task_queue, LOCK)
    await handle.signal(UNMANAGED_AUTH_SIGNAL, sighting(1, name="Cleaner *app*"))
    await handle.signal(UNMANAGED_AUTH_SIGNAL, sighting(2, name="gone", deleted=True))
    await settle(handle, 2)
    text = await details(handle)
    assert "**On the lock:** 1 · deleted since: 1" in text
    assert f"- Cleaner \\*app\\* · app `{1:024x}` · enabled · last seen" in text


def test_the_readme_status_table_is_the_vocabulary() -> None:
    """Every NukiStatus value of every kind is in the README's table, in its group."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme.split("| `NukiStatus` | group | kinds | it means |", 1)[1].split("\n\n", 1)[0]
    documented: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        for word in cells[0].split(","):
            documented[word.strip().strip("`")] = cells[1]
    assert set(documented) == set(statuses.ALL)
    assert {word: statuses.group(word) for word in documented} == documented


async def test_a_lost_update_and_a_403_read_in_the_details(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    # Nuki answers 204 to the first write and the lock keeps the old code: written again.
    await sim.set_faults(Faults(lost_update_nth=[1]), smartlock_id)
    await start_worker()
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": CODE})
    assert outcome.status is OutcomeStatus.APPLIED and outcome.writes == 2
    handle = flow.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
    assert "**Last outcome:** #1 update applied after 2 writes" in await details(handle)
    # A refused token (403) fails the change; the entity runs on, status failed, with the reason.
    await sim.set_faults(Faults(forbidden=True), smartlock_id)
    refused = await flow.update_auth(smartlock_id, auth_id, {"name": "x"})
    assert refused.status is OutcomeStatus.FAILED and refused.reason
    text = await details(handle)
    assert "**status:** failed" in text and "**Last outcome:** #2 update failed" in text
    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    assert description.typed_search_attributes.get(sa.STATUS) == "failed"


async def test_a_paused_rollout_of_20_items_says_so_and_what_is_left(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    items = []
    for lock_number in range(4):
        lock = await sim.add_lock()
        for i in range(5):
            auth = await sim.add_auth(
                lock.smartlock_id, name=f"a{i}", code=611111 + lock_number * 10 + i
            )
            items.append(
                RolloutItem(
                    op=RolloutOp.UPDATE,
                    smartlock_id=lock.smartlock_id,
                    auth_id=auth.id,
                    patch=AuthPatch(name="renamed"),
                )
            )
    options = RolloutOptions(
        max_in_flight=1,
        heartbeat_seconds=2,
        item_wait_seconds=3,
        item_poll_initial_seconds=0.2,
        item_poll_max_seconds=0.5,
        drain_seconds=5,
    )
    # Paused at once: at most the one item in flight goes on, no other starts until resumed.
    rollout = await Fleet(flow).apply_rollout(
        RolloutPlan(name="spring", items=items, options=options)
    )
    await start_worker()
    paused = await rollout.pause("checking the first locks")
    assert paused.state is RolloutState.PAUSED
    text = await details(rollout.handle)
    assert "**Rollout** spring · **paused**" in text
    progress = await rollout.handle.query(ROLLOUT_PROGRESS_QUERY, result_type=RolloutProgress)
    assert progress.totals.total == 20
    assert len(progress.items) == 20 - progress.totals.applied
    await rollout.resume()
    report = await rollout.result()
    assert report.totals.applied == 20
    assert "**Rollout** spring · **completed**" in await details(rollout.handle)
