"""The custom search attributes nukiflow keeps current, so the Temporal UI can filter by them.

They are stored in plain text by Temporal: never put a keypad code or a token in one.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

SMARTLOCK_ID = SearchAttributeKey.for_int("NukiSmartlockId")
AUTH_ID = SearchAttributeKey.for_keyword("NukiAuthId")
KIND = SearchAttributeKey.for_keyword("NukiKind")
STATUS = SearchAttributeKey.for_keyword("NukiStatus")

ALL = (SMARTLOCK_ID, AUTH_ID, KIND, STATUS)


def dev_server_flags() -> list[str]:
    """``temporal server start-dev`` flags that register every attribute."""
    kinds = {"INT": "Int", "KEYWORD": "Keyword"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
