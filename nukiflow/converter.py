"""The one data converter every nukiflow client and worker uses (pydantic payloads)."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter


def data_converter() -> DataConverter:
    return pydantic_data_converter
