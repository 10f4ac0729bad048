"""The custom search attributes nukiflow keeps current, so the Temporal UI can filter by them.

They are stored in plain text by Temporal: never put a keypad code or a token in one.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

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


def dev_server_flags() -> list[str]:
    """``temporal server start-dev`` flags that register every attribute."""
    kinds = {"INT": "Int", "KEYWORD": "Keyword"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
