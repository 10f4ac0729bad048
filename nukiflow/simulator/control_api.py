"""Internal: the control surface under `/_sim` (a prefix the real API does not have): seed locks and
auths, set faults and settings, read what the devices really hold, read the request log."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import errors
from .accounts import SimAccount
from .control_models import AccountSpec, AuthSpec, LockSpec, OnlineRequest, ResetRequest
from .settings import Faults, SimSettings
from .state import SimState
from .validation import parse_model, read_json
from .webhook_models import AuthChange

CONTROL_PREFIX = "/_sim"


def _dump(model: BaseModel) -> dict[str, Any]:
    # by_alias: nested Nuki objects keep Nuki's camelCase; the simulator's own fields have none.
    return model.model_dump(mode="json", by_alias=True)


def _ok() -> Response:
    return Response(status_code=204)


def build_control_routes(state: SimState) -> list[Route]:
    def lock_id(request: Request) -> int:
        smartlock_id: int = request.path_params["smartlock_id"]
        state.lock(smartlock_id)  # 404 for an unknown lock
        return smartlock_id

    async def reset(request: Request) -> Response:
        body = parse_model(ResetRequest, await read_json(request))
        state.reset(body.seed)  # device workers of the new locks start at once
        return _ok()

    async def add_lock(request: Request) -> Response:
        spec = parse_model(LockSpec, await read_json(request))
        lock = state.add_lock(spec)
        return JSONResponse(state.smartlock(lock).to_wire())

    async def add_auth(request: Request) -> Response:
        lock = state.lock(lock_id(request))
        spec = parse_model(AuthSpec, await read_json(request))
        return JSONResponse(state.add_device_auth(lock, spec).to_wire())

    async def change_auth(request: Request) -> Response:
        lock = state.lock(lock_id(request))
        change = parse_model(AuthChange, await read_json(request))
        auth = state.update_device_auth(lock, request.path_params["auth_id"], change)
        return JSONResponse(auth.to_wire())

    async def remove_auth(request: Request) -> Response:
        state.delete_device_auth(state.lock(lock_id(request)), request.path_params["auth_id"])
        return _ok()

    async def get_global_faults(request: Request) -> Response:
        return JSONResponse(_dump(state.faults))

    async def set_global_faults(request: Request) -> Response:
        state.set_faults(parse_model(Faults, await read_json(request)), None)
        return _ok()

    async def get_lock_faults(request: Request) -> Response:
        return JSONResponse(_dump(state.faults_for(state.lock(lock_id(request)))))

    async def set_lock_faults(request: Request) -> Response:
        smartlock_id = lock_id(request)
        state.set_faults(parse_model(Faults, await read_json(request)), smartlock_id)
        return _ok()

    async def clear_lock_faults(request: Request) -> Response:
        state.clear_lock_faults(lock_id(request))
        return _ok()

    async def get_settings(request: Request) -> Response:
        return JSONResponse(_dump(state.settings))

    async def set_settings(request: Request) -> Response:
        state.set_settings(parse_model(SimSettings, await read_json(request)))
        return _ok()

    async def set_online(request: Request) -> Response:
        smartlock_id = lock_id(request)
        body = parse_model(OnlineRequest, await read_json(request))
        state.set_online(smartlock_id, body.online)
        return _ok()

    async def device(request: Request) -> Response:
        return JSONResponse(_dump(state.device_view(lock_id(request))))

    async def requests(request: Request) -> Response:
        # `since=N`: the records after the first N (a watcher reads only what is new).
        raw = request.query_params.get("since", "0")
        try:
            since = int(raw)
        except ValueError:
            return JSONResponse({"detail": f"since: not a number: {raw!r}"}, status_code=400)
        return JSONResponse([_dump(record) for record in state.requests[max(since, 0) :]])

    async def clear_requests(request: Request) -> Response:
        state.requests.clear()
        return _ok()

    # ---- accounts and their tokens (see accounts.py) -----------------------------------------

    def account(request: Request) -> SimAccount:
        found = state.accounts.get(request.path_params["name"])
        if found is None:
            raise errors.not_found("Account")
        return found

    async def add_account(request: Request) -> Response:
        spec = parse_model(AccountSpec, await read_json(request))
        if state.accounts.get(spec.name) is not None:
            raise errors.conflict(f"account {spec.name} exists")
        return JSONResponse(_dump(state.accounts.add(spec).view()))

    async def get_account(request: Request) -> Response:
        return JSONResponse(_dump(account(request).view()))

    async def expire_tokens(request: Request) -> Response:
        state.accounts.expire(account(request))
        return _ok()

    async def revoke_account(request: Request) -> Response:
        state.accounts.revoke(account(request))
        return _ok()

    lock_path = f"{CONTROL_PREFIX}/locks/{{smartlock_id:int}}"
    return [
        Route(f"{CONTROL_PREFIX}/reset", reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/locks", add_lock, methods=["POST"]),
        Route(f"{lock_path}/auths", add_auth, methods=["POST"]),
        Route(f"{lock_path}/auths/{{auth_id}}", change_auth, methods=["PATCH"]),
        Route(f"{lock_path}/auths/{{auth_id}}", remove_auth, methods=["DELETE"]),
        Route(f"{lock_path}/online", set_online, methods=["PUT"]),
        Route(f"{lock_path}/device", device, methods=["GET"]),
        Route(f"{lock_path}/faults", get_lock_faults, methods=["GET"]),
        Route(f"{lock_path}/faults", set_lock_faults, methods=["PUT"]),
        Route(f"{lock_path}/faults", clear_lock_faults, methods=["DELETE"]),
        Route(f"{CONTROL_PREFIX}/faults", get_global_faults, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/faults", set_global_faults, methods=["PUT"]),
        Route(f"{CONTROL_PREFIX}/settings", get_settings, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/settings", set_settings, methods=["PUT"]),
        Route(f"{CONTROL_PREFIX}/requests", requests, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/requests", clear_requests, methods=["DELETE"]),
        Route(f"{CONTROL_PREFIX}/accounts", add_account, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/accounts/{{name}}", get_account, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/accounts/{{name}}/expire", expire_tokens, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/accounts/{{name}}/revoke", revoke_account, methods=["POST"]),
    ]
