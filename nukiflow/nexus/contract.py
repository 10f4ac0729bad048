"""The published contract of nukiflow's Nexus service, for callers in any language: the service
and endpoint names, every operation with the JSON Schema of its input and its output (from the
pydantic models), and how payloads travel. ``nukiflow contract export`` writes it; the
repository keeps a copy under ``contract/`` (a test checks it matches the models), for callers
to vendor.

Layout::

    service.json                      names, operations, payload encoding
    schemas/<operation>.input.json    JSON Schema (draft 2020-12) of the operation's input
    schemas/<operation>.output.json   ... of its output
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nexusrpc
from pydantic import BaseModel

from nukiflow.nexus.service import CALLER_NAMESPACE, ENDPOINT_NAME, NukiflowService

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONTRACT_VERSION = 1

PAYLOADS = {
    "encoding": "json/plain",
    "codec": "binary/encrypted (AES-256-GCM with a key id in the metadata "
    "'encryption-key-id'; data = 12-byte nonce || ciphertext of the serialized Payload "
    "protobuf, tag appended). nukiflow's workers refuse unencrypted payloads: a caller "
    "encodes with a key nukiflow holds, and reads answers encrypted with nukiflow's "
    "current key.",
    "failures": "messages and stack traces encrypted as encoded attributes",
}


def _schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation" if mode == "input" else "serialization")
    if mode == "input":
        _close(schema)
    return {"$schema": SCHEMA_DIALECT, **schema}


def _close(schema: Any) -> None:
    """Mark every object with named properties closed: nukiflow's workers ignore fields they
    do not know (an older worker reads a newer caller's input), so a caller validates against
    the schema to catch a misspelt field before it is silently dropped."""
    if isinstance(schema, dict):
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _close(value)
    elif isinstance(schema, list):
        for value in schema:
            _close(value)


def contract_files() -> dict[str, str]:
    """Every file of the contract by relative path, as text (stable: sorted keys)."""
    definition = nexusrpc.get_service_definition(NukiflowService)
    assert definition is not None
    files: dict[str, str] = {}
    operations: dict[str, Any] = {}
    for name in sorted(definition.operation_definitions):
        operation = definition.operation_definitions[name]
        entry: dict[str, Any] = {}
        for mode, model in (("input", operation.input_type), ("output", operation.output_type)):
            assert isinstance(model, type) and issubclass(model, BaseModel)
            path = f"schemas/{operation.name}.{mode}.json"
            files[path] = _dump(_schema(model, mode))
            entry[mode] = path
        entry["asynchronous"] = True
        operations[operation.name] = entry
    files["service.json"] = _dump(
        {
            "contract_version": CONTRACT_VERSION,
            "service": definition.name,
            "endpoint": ENDPOINT_NAME,
            "caller_namespace": CALLER_NAMESPACE,
            "operations": operations,
            "payloads": PAYLOADS,
        }
    )
    return files


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_contract(out: Path) -> list[Path]:
    """Write the contract under ``out`` (created); returns the files written."""
    written = []
    for relative, text in contract_files().items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return sorted(written)
