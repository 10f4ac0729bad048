"""The one data converter every nukiflow client and worker uses.

Pydantic models become JSON payloads, and every payload is then encrypted (AES-256-GCM,
:mod:`nukiflow.temporal.codec`) before it reaches Temporal: workflow and activity inputs and
results, update arguments and results, queries, memos, summaries and details. Failures are
converted with their message and stack trace moved into an encrypted attribute, so an error
message that quotes a value never lands in history in plain text (Temporal stores "Encoded
failure").

Search attributes are the exception Temporal makes: they are never encrypted (see
:mod:`nukiflow.contracts.search_attributes`).

Workers inherit their client's converter, so connecting through
:func:`nukiflow.temporal.connect.connect_temporal` (or passing this converter to
``Client.connect``) is all it takes. There is deliberately no unencrypted variant: see
``require_encryption``.
"""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from nukiflow.temporal.codec import CodecConfigError, CodecKey, EncryptionCodec, Keyring, as_keyring


def data_converter(
    keys: Keyring | CodecKey | Iterable[CodecKey], *, allow_plaintext: bool = False
) -> DataConverter:
    """Pydantic payloads, encrypted with ``keys`` (the first key encrypts, all decrypt).

    Unencrypted payloads are refused when read (only key holders write valid inputs).
    ``allow_plaintext=True`` reads them too: for replaying histories recorded before encryption,
    never for a worker or client that serves locks.
    """
    return DataConverter(
        payload_converter_class=PydanticPayloadConverter,
        payload_codec=EncryptionCodec(as_keyring(keys), allow_plaintext=allow_plaintext),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def is_encrypting(converter: DataConverter) -> bool:
    """Whether ``converter`` encrypts payloads and failure messages the nukiflow way."""
    return isinstance(converter.payload_codec, EncryptionCodec) and isinstance(
        converter.failure_converter, DefaultFailureConverterWithEncodedAttributes
    )


def require_encryption(client: Client) -> None:
    """Refuse a client (and so its workers) that would write payloads in plain text."""
    if not is_encrypting(client.data_converter):
        raise CodecConfigError(
            "this Temporal client does not encrypt payloads: connect with "
            "nukiflow.temporal.connect.connect_temporal or "
            "nukiflow.temporal.converter.data_converter(keys)"
        )
