"""Connecting to Temporal with nukiflow's data converter."""

from __future__ import annotations

from temporalio.client import Client

from nukiflow.converter import data_converter
from nukiflow.settings import Settings


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(),
    )
