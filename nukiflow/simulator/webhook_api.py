"""Internal: routes of decentral webhooks: Nuki's `/api/decentralWebhook` (spec: AdvancedApi) and
the control surface's view of webhooks and deliveries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nukiflow.contracts.wire import DecentralWebhook

from .api import account_of
from .control_api import CONTROL_PREFIX
from .state import SimState
from .validation import parse_model, read_json


def build_webhook_routes(state: SimState) -> list[Route]:
    """Nuki's webhook endpoints, for the account of the request's token."""
    hub = state.webhooks

    async def list_webhooks(request: Request) -> Response:
        return JSONResponse(
            [hook.decentral_webhook().to_wire() for hook in hub.of_account(account_of(request))]
        )

    async def register(request: Request) -> Response:
        body = parse_model(DecentralWebhook, await read_json(request))
        hook = hub.register(account_of(request), body)
        return JSONResponse(hook.decentral_webhook().to_wire())

    async def unregister(request: Request) -> Response:
        hub.unregister(account_of(request), request.path_params["webhook_id"])
        return Response(status_code=204)

    return [
        Route("/api/decentralWebhook", list_webhooks, methods=["GET"]),
        Route("/api/decentralWebhook", register, methods=["PUT"]),
        Route("/api/decentralWebhook/{webhook_id:int}", unregister, methods=["DELETE"]),
    ]


def build_webhook_control_routes(state: SimState) -> list[Route]:
    hub = state.webhooks

    async def webhooks(request: Request) -> Response:
        return JSONResponse([hook.view().model_dump(mode="json") for hook in hub.hooks.values()])

    async def deliveries(request: Request) -> Response:
        return JSONResponse([record.model_dump(mode="json") for record in hub.deliveries])

    async def clear_deliveries(request: Request) -> Response:
        hub.deliveries.clear()
        return Response(status_code=204)

    return [
        Route(f"{CONTROL_PREFIX}/webhooks", webhooks, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/webhook-deliveries", deliveries, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/webhook-deliveries", clear_deliveries, methods=["DELETE"]),
    ]
