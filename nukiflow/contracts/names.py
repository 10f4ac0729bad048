"""Every name Temporal records for nukiflow: workflow types, updates, queries, signals, activities,
and the error types that cross from one side to the other.

Histories store these strings, so they never change: a renamed update or activity would make every
running workflow fail on replay. Workflows, activities, the facade and the CLI all take them from
here; nothing in this module imports anything of theirs.
"""

from __future__ import annotations

from typing import Final

# -- workflow types ----------------------------------------------------------------------------
AUTH_ENTITY_WORKFLOW: Final = "NukiAuthEntity"
AUTH_CREATE_WORKFLOW: Final = "NukiAuthCreate"
LOCK_ACTIONS_WORKFLOW: Final = "NukiLockActions"
ROLLOUT_WORKFLOW: Final = "NukiRollout"
ACCESS_GRANT_WORKFLOW: Final = "NukiAccessGrant"
DRIFT_LEDGER_WORKFLOW: Final = "NukiDriftLedger"

# -- updates (the method names they were first defined with) -----------------------------------
AUTH_CHANGE_UPDATE: Final = "change"
AUTH_OUTCOME_UPDATE: Final = "outcome"
AUTH_DRIFT_POLICY_UPDATE: Final = "drift_policy"
LOCK_ACT_UPDATE: Final = "act"
ROLLOUT_PAUSE_UPDATE: Final = "pause"
ROLLOUT_RESUME_UPDATE: Final = "resume"
ROLLOUT_CANCEL_UPDATE: Final = "cancel"
GRANT_REVOKE_UPDATE: Final = "revoke"
GRANT_EXTEND_UPDATE: Final = "extend"
GRANT_CREATED_UPDATE: Final = "created"

# -- queries -----------------------------------------------------------------------------------
STATE_QUERY: Final = "state"  # entity, lock actions, grant, drift ledger
ROLLOUT_PROGRESS_QUERY: Final = "progress"

# -- signals -----------------------------------------------------------------------------------
AUTH_EVENT_SIGNAL: Final = "nuki_auth_event"
LOCK_EVENT_SIGNAL: Final = "nuki_lock_event"
UNMANAGED_AUTH_SIGNAL: Final = "nuki_unmanaged_auth"

# -- activities --------------------------------------------------------------------------------
READ_AUTH_ACTIVITY: Final = "nuki.auth.read"
LIST_AUTH_IDS_ACTIVITY: Final = "nuki.auth.list_ids"
WRITE_AUTH_ACTIVITY: Final = "nuki.auth.write"
AWAIT_AUTH_ACTIVITY: Final = "nuki.auth.await"
CREATE_AUTH_ACTIVITY: Final = "nuki.auth.create"
# One look at the lock and the auth while a change waits: why it waits (offline, busy).
LOOK_AUTH_ACTIVITY: Final = "nuki.auth.look"
SEND_ACTION_ACTIVITY: Final = "nuki.action.send"
CONFIRM_ACTION_ACTIVITY: Final = "nuki.action.confirm"
LOOK_ACTION_ACTIVITY: Final = "nuki.action.look"
APPLY_ITEM_ACTIVITY: Final = "nuki.fleet.apply_item"
REVOKE_AUTH_ACTIVITY: Final = "nuki.fleet.revoke_auth"
FIND_AUTH_ACTIVITY: Final = "nuki.fleet.find_auth"

# -- error types of failures that workflows and callers tell apart ------------------------------
ENTITY_ROLLING_OVER_ERROR: Final = "EntityRollingOver"
AUTH_DELETED_ERROR: Final = "AuthDeleted"
# A create that could not create (or created an auth that differs): the run fails with this
# type, its outcome in the failure's details, so Temporal's Failed means what it says.
AUTH_CREATE_FAILED_ERROR: Final = "AuthCreateFailed"
# A rollout item whose change failed or was rejected: its activity fails with this type, the
# outcome in the failure's details, so the item is drawn failed in the UI's timeline.
ROLLOUT_ITEM_FAILED_ERROR: Final = "RolloutItemFailed"
LOCK_ROLLING_OVER_ERROR: Final = "LockWorkflowRollingOver"
GRANT_REFUSED_ERROR: Final = "GrantRefused"
# The deadline of a change or action passed before it could be sent (the record shows it was not).
DEADLINE_PASSED_ERROR: Final = "DeadlinePassed"
# The lock cannot do the action (an Opener action on a lock): bad input, nothing was sent.
ACTION_NOT_SUPPORTED_ERROR: Final = "ActionNotSupported"
# Nuki refused the values (400, 422): failures are typed after the client's exception class.
NUKI_VALIDATION_ERROR: Final = "NukiValidationError"
