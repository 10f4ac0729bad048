"""Looking for a value in a workflow's history, as its owner can read it: every payload of every
event (inputs, results, Nexus operation inputs and results, headers, memos, failures' encoded
attributes), decoded with the owner's codec. How the tests and ``nukiflow nexus-demo`` show that
a generated code never entered a caller's history."""

from __future__ import annotations

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec


def event_payloads(message: Message) -> list[Payload]:
    """Every payload within ``message`` (an event), however deeply nested."""
    found: list[Payload] = []
    for _field, value in message.ListFields():
        if isinstance(value, Message):
            items: list[object] = [value]
        elif hasattr(value, "values") and callable(value.values):
            items = list(value.values())  # a map field (headers, memo)
        elif isinstance(value, str | bytes):
            items = []
        elif hasattr(value, "__iter__"):
            items = list(value)
        else:
            items = []
        for item in items:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found.extend(event_payloads(item))
    return found


async def history_holds(
    history: WorkflowHistory, needle: bytes, codec: PayloadCodec | None
) -> bool:
    """Whether ``needle`` occurs in the history's raw bytes or in any payload decoded with
    ``codec`` (the key of the history's owner)."""
    if needle in history.to_json().encode():
        return True
    for event in history.events:
        for payload in event_payloads(event):
            if needle in payload.data:
                return True
            if codec is None or payload.metadata.get("encoding") != b"binary/encrypted":
                continue  # a plain payload (a search attribute): its data was just searched
            if needle in (await codec.decode([payload]))[0].data:
                return True
    return False
