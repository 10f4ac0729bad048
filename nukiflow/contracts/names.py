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
DRIFT_SWEEP_WORKFLOW: Final = "NukiDriftSweep"
RECONCILE_PLAN_WORKFLOW: Final = "NukiReconcilePlan"
LOCK_ZONE_WORKFLOW: Final = "NukiLockZone"

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
# The fast path of an auth change: write and settle in one attempt (see auth_write_settle.py).
WRITE_SETTLE_AUTH_ACTIVITY: Final = "nuki.auth.write_settle"
# The first change of an entity that has not read its auth: the base read, then the fast path's
# write and settling, in one attempt (see activities.auth_first_write).
READ_WRITE_SETTLE_AUTH_ACTIVITY: Final = "nuki.auth.read_write_settle"
CREATE_AUTH_ACTIVITY: Final = "nuki.auth.create"
# One look at the lock and the auth while a change waits: why it waits (offline, busy).
LOOK_AUTH_ACTIVITY: Final = "nuki.auth.look"
SEND_ACTION_ACTIVITY: Final = "nuki.action.send"
CONFIRM_ACTION_ACTIVITY: Final = "nuki.action.confirm"
LOOK_ACTION_ACTIVITY: Final = "nuki.action.look"
APPLY_ITEM_ACTIVITY: Final = "nuki.fleet.apply_item"
REVOKE_AUTH_ACTIVITY: Final = "nuki.fleet.revoke_auth"
FIND_AUTH_ACTIVITY: Final = "nuki.fleet.find_auth"
SWEEP_ACCOUNT_ACTIVITY: Final = "nuki.sweep.account"
RECONCILE_PLAN_ACTIVITY: Final = "nuki.reconcile.plan"
LOCK_ZONE_ACTIVITY: Final = "nuki.lock.zone"

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

# -- Nexus (nukiflow.nexus): one small workflow per request of a caller in another namespace ----
NEXUS_AUTH_WORKFLOW: Final = "NukiNexusAuth"
NEXUS_ACTION_WORKFLOW: Final = "NukiNexusAction"
NEXUS_GENERATED_CODE_WORKFLOW: Final = "NukiNexusGeneratedCode"
CODE_VAULT_WORKFLOW: Final = "NukiCodeVault"
CODE_REDEEM_UPDATE: Final = "redeem"
CODE_DISCARD_SIGNAL: Final = "discard"
NEXUS_AUTH_ACTIVITY: Final = "nuki.nexus.auth"
NEXUS_ACTION_ACTIVITY: Final = "nuki.nexus.action"
RESERVE_CODE_ACTIVITY: Final = "nuki.nexus.reserve_code"
# A code handle that was redeemed already, discarded, expired or never existed.
CODE_NOT_REDEEMABLE_ERROR: Final = "CodeNotRedeemable"
NEXUS_GRANT_WORKFLOW: Final = "NukiNexusGrant"
NEXUS_REVOKE_WORKFLOW: Final = "NukiNexusRevoke"
NEXUS_ROLLOUT_WORKFLOW: Final = "NukiNexusRollout"
NEXUS_GRANT_ACTIVITY: Final = "nuki.nexus.grant"
NEXUS_REVOKE_ACTIVITY: Final = "nuki.nexus.revoke"
NEXUS_ROLLOUT_ACTIVITY: Final = "nuki.nexus.rollout"
# A grant, revocation or rollout the facade refused (bad input): the message says why.
NEXUS_REFUSED_ERROR: Final = "NexusRequestRefused"

# -- patch ids that are not one workflow's own (nukiflow.workflows.logic_version) ----------------
# The present generation of workflow logic: a run that records it takes every behaviour change
# made up to it, with this one marker (see logic_version for the rule once newer changes come).
LOGIC_GENERATION_PATCH: Final = "nukiflow-logic-2026-11"
