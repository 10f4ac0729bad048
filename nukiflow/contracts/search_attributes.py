"""The custom search attributes nukiflow keeps current, so the Temporal UI can filter by them.

They are stored in plain text by Temporal: never put a keypad code or a token in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

SMARTLOCK_ID = SearchAttributeKey.for_int("NukiSmartlockId")
AUTH_ID = SearchAttributeKey.for_keyword("NukiAuthId")
KIND = SearchAttributeKey.for_keyword("NukiKind")
STATUS = SearchAttributeKey.for_keyword("NukiStatus")
# The Nuki account (its name, never a credential) of the lock a workflow works on; absent for
# the default account.
ACCOUNT = SearchAttributeKey.for_keyword("NukiAccount")

ALL = (SMARTLOCK_ID, AUTH_ID, KIND, STATUS, ACCOUNT)


def account_updates(account: str | None) -> list[SearchAttributeUpdate[str]]:
    """The ``NukiAccount`` update for a workflow of ``account`` (none for the default account,
    so workflows without an account upsert exactly what they did before accounts existed)."""
    return [] if account is None else [ACCOUNT.value_set(account)]


def auth_attributes(
    smartlock_id: int, auth_id: str, status: str, account: str | None
) -> list[SearchAttributeUpdate[Any]]:
    """What an auth entity shows: its lock, its auth, its kind and status, its account."""
    return [
        SMARTLOCK_ID.value_set(smartlock_id),
        AUTH_ID.value_set(auth_id),
        KIND.value_set("auth"),
        STATUS.value_set(status),
        *account_updates(account),
    ]


def create_attributes(
    smartlock_id: int, status: str, account: str | None
) -> list[SearchAttributeUpdate[Any]]:
    """What a create shows from its start: its lock, its kind and status, its account."""
    return [
        SMARTLOCK_ID.value_set(smartlock_id),
        KIND.value_set("auth-create"),
        STATUS.value_set(status),
        *account_updates(account),
    ]


def at_start(updates: Sequence[SearchAttributeUpdate[Any]]) -> TypedSearchAttributes:
    """``updates`` as a start's search attributes: a workflow started with them shows them from
    its first moment, and need not spend a history event upserting them."""
    return TypedSearchAttributes([SearchAttributePair(u.key, u.value) for u in updates])


def dev_server_flags() -> list[str]:
    """``temporal server start-dev`` flags that register every attribute."""
    kinds = {"INT": "Int", "KEYWORD": "Keyword"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
