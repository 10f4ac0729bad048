"""The Nexus service nukiflow offers to workflows in other namespaces: its name, its operations
with their typed inputs and outputs, and the endpoint name ``nukiflow dev`` creates.

A caller's workflow needs only this module and :mod:`nukiflow.nexus.models` (or, in another
language, the exported contract: ``nukiflow contract export``)::

    client = workflow.create_nexus_client(service=NukiflowService, endpoint=ENDPOINT_NAME)
    outcome = await client.execute_operation(NukiflowService.update_auth, UpdateAuthInput(...))
"""

from __future__ import annotations

from typing import Final

import nexusrpc

from nukiflow.contracts.access import GrantView
from nukiflow.contracts.action import ActionOutcome
from nukiflow.contracts.auth import AuthOutcome
from nukiflow.contracts.rollout_progress import RolloutReport
from nukiflow.nexus.models import (
    CreateAuthInput,
    CreateWithGeneratedCodeInput,
    DeleteAuthInput,
    GeneratedCodeOutcome,
    GrantAccessInput,
    GrantOutcome,
    LockActionInput,
    RevokeAccessInput,
    RolloutInput,
    UpdateAuthInput,
)

SERVICE_NAME: Final = "nukiflow"
# The endpoint ``nukiflow dev`` creates (target: nukiflow's namespace and task queue).
ENDPOINT_NAME: Final = "nukiflow"
# The namespace ``nukiflow dev`` creates for callers' workflows.
CALLER_NAMESPACE: Final = "nukiflow-callers"


@nexusrpc.service(name=SERVICE_NAME)
class NukiflowService:
    """Auth changes, lock actions, access grants and rollouts, each answered with the typed
    outcome the facade (or :class:`~nukiflow.fleet.Fleet`) gives."""

    update_auth: nexusrpc.Operation[UpdateAuthInput, AuthOutcome]
    create_auth: nexusrpc.Operation[CreateAuthInput, AuthOutcome]
    create_auth_with_generated_code: nexusrpc.Operation[
        CreateWithGeneratedCodeInput, GeneratedCodeOutcome
    ]
    delete_auth: nexusrpc.Operation[DeleteAuthInput, AuthOutcome]
    lock_action: nexusrpc.Operation[LockActionInput, ActionOutcome]
    grant_access: nexusrpc.Operation[GrantAccessInput, GrantOutcome]
    revoke_access: nexusrpc.Operation[RevokeAccessInput, GrantView]
    apply_rollout: nexusrpc.Operation[RolloutInput, RolloutReport]
