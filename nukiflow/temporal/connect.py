"""Internal: connecting to Temporal with nukiflow's data converter (pydantic payloads,
encrypted)."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from nukiflow.settings import Settings
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter


async def connect_temporal(
    settings: Settings,
    *,
    keys: Keyring | None = None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client whose every payload is encrypted; workers built on it inherit that.

    ``keys`` defaults to :meth:`Settings.keyring`, which refuses to go on without a key
    (:class:`nukiflow.temporal.codec.CodecConfigError`, a ``RuntimeError``) before anything
    connects.
    """
    keyring = keys if keys is not None else settings.keyring()
    return await Client.connect(
        **settings.temporal_connect_options(),
        data_converter=data_converter(keyring),
        runtime=runtime,
        interceptors=interceptors,
    )
