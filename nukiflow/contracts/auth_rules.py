"""The rules a change's patch meets on top of the auth it changes: pure functions shared by the
entity workflow (which merges the changes it holds) and the activity of a first change that
reads its base and writes in one attempt (which must write exactly what the entity would).
"""

from __future__ import annotations

from nukiflow.contracts.auth import MAX_KEYPAD_NAME, AuthFields, AuthPatch
from nukiflow.contracts.wire import AuthType


def check_type_rules(auth_type: int | None, patch: AuthPatch) -> None:
    """Rules that depend on the auth's type (raises ValueError). Before the auth was first read
    its type is unknown (None) and nothing is checked here."""
    if auth_type is not None and auth_type != AuthType.KEYPAD_CODE and patch.code:
        raise ValueError("only keypad code auths (type 13) carry a code")
    if (
        auth_type == AuthType.KEYPAD_CODE
        and patch.name is not None
        and len(patch.name) > (MAX_KEYPAD_NAME)
    ):
        raise ValueError(f"a keypad code's name has at most {MAX_KEYPAD_NAME} characters")


def apply_patch(
    base: AuthFields, auth_type: int | None, patch: AuthPatch, *, check_types: bool
) -> AuthFields:
    """``base`` with ``patch`` on top (raises ValueError when the auth cannot take it: a type
    rule, when ``check_types``, or the fields' own rules)."""
    if check_types:
        check_type_rules(auth_type, patch)
    return patch.apply_to(base)
