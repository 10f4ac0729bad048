"""No keypad code in plain text anywhere Temporal keeps or shows it.

The real auth workflows run the forum case, a create/delete cycle and a create that fails;
then every run of every workflow of the test is read back through the Temporal API: raw
history events (payloads, failures, user metadata, search attributes, memos), descriptions and
list entries, plus the decrypted summaries, memos and current details the UI would show. None
may hold a code used, neither as text nor as a JSON number (the same digits). As a control, the
same codes are found once the payloads are decrypted with the session key: the scan looks where
they really are.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id, create_workflow_id
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from nukiflow.temporal.codec import EncryptionCodec, encrypted_key_id
from tests.conftest import CODEC_KEYS

INITIAL_CODE = 839415
FORUM_CODES = [847291, 847292, 847293, 847294, 847295]
CREATE_CODE = 863517
ALL_CODES = [INITIAL_CODE, *FORUM_CODES, CREATE_CODE]
# Where Temporal keeps values in plain text by design (and nukiflow keeps ids only).
# Search attributes are plain for the server to index them; a patch marker's data (the patch
# id, written by the SDK's core below the data converter) is plain too. Both are still scanned
# for codes above.
PLAIN_BY_DESIGN = ("search_attributes", "details[patch-data]")


def iter_payloads(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every ``Payload`` inside a protobuf message, with the field path that leads to it."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        kind = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or kind is None:
            continue
        where = f"{path}.{field.name}" if path else field.name
        if kind.GetOptions().map_entry:
            value_field = kind.fields_by_name["value"]
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                for key, item in value.items():
                    yield from iter_payloads(item, f"{where}[{key}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from iter_payloads(item, f"{where}[{index}]")
        else:
            yield from iter_payloads(value, where)


def code_forms(codes: list[int]) -> dict[int, list[bytes]]:
    """How a code could appear: as a string or a JSON number is the same digits; quoted too."""
    return {code: [str(code).encode(), f'"{code}"'.encode()] for code in codes}


def leaks_in(raw: bytes, codes: list[int]) -> list[int]:
    return [code for code, forms in code_forms(codes).items() if any(f in raw for f in forms)]


async def _executions(
    client: Client, task_queue: str, expected: set[str]
) -> list[WorkflowExecution]:
    """Every run of every workflow on this test's task queue (visibility may lag: on a loaded
    machine, seconds)."""
    for _ in range(600):
        found = [e async for e in client.list_workflows(f"TaskQueue = '{task_queue}'")]
        if expected <= {e.id for e in found}:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"visibility never listed {expected - {e.id for e in found}}")


async def test_no_code_in_plain_text_in_any_history(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
    task_queue: str,
) -> None:
    lock = await sim.add_lock()
    smartlock_id = lock.smartlock_id
    auth = await sim.add_auth(smartlock_id, name="front door", code=INITIAL_CODE)

    # The forum case: five callers, the fourth write lost by the device.
    await sim.set_faults(Faults(lost_update_nth=[4]), smartlock_id)
    tasks = []
    for code in FORUM_CODES:
        tasks.append(asyncio.create_task(flow.update_auth(smartlock_id, auth.id, {"code": code})))
        await asyncio.sleep(0.02)
    outcomes = await asyncio.gather(*tasks)
    # (Arrival order may differ from call order: whichever change came last is applied.)
    assert all(o.ok for o in outcomes), [o.reason for o in outcomes]
    assert any(o.status is OutcomeStatus.APPLIED for o in outcomes)
    await sim.set_faults(Faults(), smartlock_id)

    # A create/delete cycle, and a create that fails (the code is taken): a failure in history.
    create_id, taken_id = uuid.uuid4().hex, uuid.uuid4().hex
    created = await flow.create_auth(
        smartlock_id, name="guest", code=CREATE_CODE, request_id=create_id
    )
    assert created.status is OutcomeStatus.APPLIED and created.auth_id, created.reason
    deleted = await flow.delete_auth(smartlock_id, created.auth_id)
    assert deleted.status is OutcomeStatus.APPLIED, deleted.reason
    (on_lock,) = [a.code for a in (await sim.device(smartlock_id)).auths if a.id == auth.id]
    assert on_lock in FORUM_CODES
    taken = await flow.create_auth(smartlock_id, name="copycat", code=on_lock, request_id=taken_id)
    assert taken.status is OutcomeStatus.FAILED
    for outcome in [*outcomes, created, deleted, taken]:
        assert not leaks_in(outcome.model_dump_json().encode(), ALL_CODES), outcome

    expected = {
        auth_workflow_id(smartlock_id, auth.id),
        auth_workflow_id(smartlock_id, created.auth_id),
        create_workflow_id(smartlock_id, create_id),
        create_workflow_id(smartlock_id, taken_id),
    }
    executions = await _executions(temporal_client, task_queue, expected)
    codec = EncryptionCodec(CODEC_KEYS)
    leaks: list[str] = []
    decrypted_text = b""
    failures = 0
    for execution in executions:
        name = f"{execution.id}/{execution.run_id}"
        for code in leaks_in(execution.raw_info.SerializeToString(), ALL_CODES):
            leaks.append(f"{name}: list entry (search attributes, memo) holds {code}")
        handle = temporal_client.get_workflow_handle(execution.id, run_id=execution.run_id)
        description = await handle.describe()
        for code in leaks_in(description.raw_description.SerializeToString(), ALL_CODES):
            leaks.append(f"{name}: description holds {code}")
        shown = [
            await description.static_summary() or "",
            await description.static_details() or "",
            repr(await description.memo()),
            repr(list(description.typed_search_attributes)),
        ]
        if description.status is WorkflowExecutionStatus.RUNNING:
            metadata = await handle.query(
                "__temporal_workflow_metadata", result_type=WorkflowMetadata
            )
            shown.append(metadata.current_details)
        for code in leaks_in("\n".join(shown).encode(), ALL_CODES):
            leaks.append(f"{name}: summary, details or memo shown by the UI holds {code}")

        history = await handle.fetch_history()
        for event in history.events:
            where = f"{name} event {event.event_id} ({EventType.Name(event.event_type)})"
            for code in leaks_in(event.SerializeToString(), ALL_CODES):
                leaks.append(f"{where} holds {code} in plain text")
            for path, payload in iter_payloads(event):
                if any(part in path for part in PLAIN_BY_DESIGN):
                    continue
                if encrypted_key_id(payload) != CODEC_KEYS.current.key_id:
                    leaks.append(f"{where}: {path} is not encrypted")
                    continue
                (plain,) = await codec.decode([payload])
                decrypted_text += plain.data + b"\n"
            for field, attributes in event.ListFields():
                kind = field.message_type
                if not field.name.endswith("_attributes") or kind is None:
                    continue
                if "failure" in kind.fields_by_name and attributes.HasField("failure"):
                    failures += 1
                    if attributes.failure.message != "Encoded failure":
                        leaks.append(f"{where}: failure message in plain text")
    assert not leaks, "\n".join(leaks)

    # The control: the codes are there, encrypted.
    assert failures >= 1, "the failed create should have left a failure in history"
    assert sorted(leaks_in(decrypted_text, ALL_CODES)) == sorted(ALL_CODES)


LEGACY_CODE = 128456  # breaks nukiflow's rules (starts with 12) but is already on the lock


async def test_a_code_already_on_the_lock_is_never_quoted(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """A code set outside nukiflow that breaks the rules: nukiflow does not judge it for an
    unrelated change (it always sends the full auth, so Nuki does), and no reason quotes it."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="legacy", code=LEGACY_CODE)
    renamed = await flow.update_auth(lock.smartlock_id, auth.id, {"name": "renamed"})
    assert renamed.status is OutcomeStatus.FAILED
    assert renamed.reason is not None and "parameter 'code'" in renamed.reason
    assert str(LEGACY_CODE) not in renamed.reason
    # A change that does not fit is refused by the rule's name, never by value.
    refused = await flow.update_auth(
        lock.smartlock_id, auth.id, {"allowed_from_time": 600, "allowed_until_time": 500}
    )
    assert refused.status is OutcomeStatus.REJECTED
    assert refused.reason is not None and str(LEGACY_CODE) not in refused.reason
    # Replacing the code heals the auth.
    healed = await flow.update_auth(lock.smartlock_id, auth.id, {"name": "renamed", "code": 555552})
    assert healed.status is OutcomeStatus.APPLIED, healed.reason
