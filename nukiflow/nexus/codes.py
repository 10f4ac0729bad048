"""Redeeming a generated keypad code: the one way its plain value leaves nukiflow.

A create with a generated code (``create_auth_with_generated_code``) answers the caller's
workflow with a handle, never the code. The caller redeems the handle once, from code of its
own that talks to nukiflow's namespace with nukiflow's key (an activity, or ``nukiflow code
redeem``), and hands the code to the person straight away (a message, a printed card): an
activity that returned it to its workflow would write it into the caller's history again.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.contracts.names import CODE_REDEEM_UPDATE
from nukiflow.nexus.models import RedeemedCode

_HANDLE_PREFIX = "nuki-code-"


class CodeNotRedeemable(ValueError):
    """The handle names no code that can be redeemed (any more)."""


async def redeem_code(client: Client, handle: str) -> RedeemedCode:
    """The code a handle keeps, once: a second call (from anywhere) raises
    :class:`CodeNotRedeemable`, as does a handle that was discarded, expired or never existed.

    ``client`` is connected to nukiflow's namespace with nukiflow's encrypting converter (the
    answer travels encrypted)."""
    if not handle.startswith(_HANDLE_PREFIX) or len(handle) > 300:
        raise CodeNotRedeemable("not a code handle (they start with 'nuki-code-')")
    workflow = client.get_workflow_handle(handle)
    try:
        redeemed: RedeemedCode = await workflow.execute_update(
            CODE_REDEEM_UPDATE, result_type=RedeemedCode
        )
    except WorkflowUpdateFailedError:
        raise CodeNotRedeemable(
            f"{handle}: redeemed already, discarded, or its time is up"
        ) from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise CodeNotRedeemable(
                f"{handle}: no code is kept under this handle (any more)"
            ) from None
        raise
    return redeemed
