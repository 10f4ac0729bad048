"""Internal: the Nuki Web API routes of the fake cloud (paths and bodies of Nuki's OpenAPI
3.9.0)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nukiflow.contracts.wire import (
    LockAction,
    NukiModel,
    SmartlockAction,
    SmartlockAuth,
    SmartlockAuthCreate,
    SmartlockAuthMultiUpdate,
    SmartlockAuthUpdate,
    SmartlocksAuthCreate,
)

from . import errors
from .records import LockRecord
from .state import SimState
from .validation import parse_model, parse_value, read_json
from .writes import PlannedWrite

MAX_LOG_LIMIT = 50
DEFAULT_LOG_LIMIT = 20

Endpoint = Callable[[Request], Awaitable[Response]]

_updates = TypeAdapter(list[SmartlockAuthMultiUpdate])
_auth_ids = TypeAdapter(list[str])


def _json(models: Iterable[NukiModel]) -> JSONResponse:
    return JSONResponse([model.to_wire() for model in models])


def _accepted() -> Response:
    return Response(status_code=204)


def _int_query(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_parameter(name, raw) from None


def _types_filter(request: Request) -> set[int] | None:
    """`types` is a comma-separated list of auth types."""
    raw = request.query_params.get("types")
    if not raw:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise errors.bad_parameter("types", raw) from None


def _filter_auths(
    auths: Iterable[SmartlockAuth], types: set[int] | None, account_user_id: int | None = None
) -> list[SmartlockAuth]:
    return [
        auth
        for auth in auths
        if (types is None or auth.type in types)
        and (account_user_id is None or auth.account_user_id == account_user_id)
    ]


def account_of(request: Request) -> int:
    """The account the request's token reaches (set by the front middleware)."""
    account_id: int = request.state.account_id
    return account_id


def build_routes(state: SimState) -> list[Route]:
    """Routes bound to one simulator state."""

    def lock_of(request: Request) -> LockRecord:
        smartlock_id: int = request.path_params["smartlock_id"]
        lock = state.lock(smartlock_id)
        if lock.account_id != account_of(request):
            raise foreign_lock()
        return lock

    def foreign_lock() -> errors.NukiError:
        status = state.settings.foreign_lock_status
        if status == 404:
            return errors.not_found("Smartlock")
        return errors.forbidden() if status == 403 else errors.unauthorized()

    def own_locks(request: Request) -> list[LockRecord]:
        account_id = account_of(request)
        return [lock for lock in state.locks.values() if lock.account_id == account_id]

    # ---- smartlocks ----------------------------------------------------------------------

    async def list_smartlocks(request: Request) -> Response:
        wanted_type = _int_query(request, "type")
        locks = [
            lock for lock in own_locks(request) if wanted_type is None or lock.type == wanted_type
        ]
        return _json(state.smartlock(lock) for lock in locks)

    async def get_smartlock(request: Request) -> Response:
        return JSONResponse(state.smartlock(lock_of(request)).to_wire())

    async def sync(request: Request) -> Response:
        lock_of(request)  # the cloud's cache is re-read from the device anyway; nothing to do
        return _accepted()

    # ---- auths of one lock ---------------------------------------------------------------

    async def list_auths(request: Request) -> Response:
        lock = lock_of(request)
        return _json(_filter_auths(lock.cloud_auths.values(), _types_filter(request)))

    async def create_auth(request: Request) -> Response:
        lock = lock_of(request)
        body = parse_model(SmartlockAuthCreate, await read_json(request))
        state.accept(state.plan_create(lock, body, set()))
        return _accepted()

    async def get_auth(request: Request) -> Response:
        lock = lock_of(request)
        return JSONResponse(state.cloud_auth(lock, request.path_params["auth_id"]).to_wire())

    async def update_auth(request: Request) -> Response:
        lock = lock_of(request)
        current = state.cloud_auth(lock, request.path_params["auth_id"])
        body = parse_model(SmartlockAuthUpdate, await read_json(request))
        state.accept(state.plan_update(lock, current, body, set()))
        return _accepted()

    async def delete_auth(request: Request) -> Response:
        lock = lock_of(request)
        current = state.cloud_auth(lock, request.path_params["auth_id"])
        state.accept(state.plan_delete(lock, current))
        return _accepted()

    # ---- auths across locks (bulk): every item is validated before any is accepted --------

    async def list_all_auths(request: Request) -> Response:
        auths = [auth for lock in own_locks(request) for auth in lock.cloud_auths.values()]
        account_user_id = _int_query(request, "accountUserId")
        return _json(_filter_auths(auths, _types_filter(request), account_user_id))

    async def create_auths(request: Request) -> Response:
        body = parse_model(SmartlocksAuthCreate, await read_json(request))
        if not body.smartlock_ids:
            raise errors.bad_parameter("smartlockIds", "[]")
        claimed: set[tuple[int, int]] = set()
        plans = []
        for smartlock_id in body.smartlock_ids:
            lock = state.locks.get(smartlock_id)
            if lock is None or lock.account_id != account_of(request):
                raise errors.bad_parameter("smartlockIds", smartlock_id)
            plans.append(state.plan_create(lock, body, claimed))
        _accept_all(plans)
        return _accepted()

    async def update_auths(request: Request) -> Response:
        items = parse_value(_updates, await read_json(request))
        claimed: set[tuple[int, int]] = set()
        plans = []
        for item in items:
            lock, current = own_auth(request, item.id)
            plans.append(state.plan_update(lock, current, item, claimed))
        _accept_all(plans)
        return _accepted()

    async def delete_auths(request: Request) -> Response:
        auth_ids = parse_value(_auth_ids, await read_json(request))
        plans = []
        for auth_id in auth_ids:
            lock, current = own_auth(request, auth_id)
            plans.append(state.plan_delete(lock, current))
        _accept_all(plans)
        return _accepted()

    def own_auth(request: Request, auth_id: str) -> tuple[LockRecord, SmartlockAuth]:
        lock, current = state.find_cloud_auth(auth_id)
        if lock.account_id != account_of(request):
            raise errors.bad_parameter("id", auth_id)  # as for an id Nuki does not know
        return lock, current

    def _accept_all(plans: list[PlannedWrite]) -> None:
        for plan in plans:
            state.accept(plan)

    # ---- actions and logs ----------------------------------------------------------------

    async def action(request: Request) -> Response:
        lock = lock_of(request)
        body = parse_model(SmartlockAction, await read_json(request))
        state.accept_action(lock, body)
        return _accepted()

    def fixed_action(lock_action: LockAction) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            lock = lock_of(request)
            if lock.is_opener:
                raise errors.not_allowed("Lock and unlock are not available for an Opener")
            state.accept_action(lock, SmartlockAction(action=lock_action))
            return _accepted()

        return endpoint

    async def logs(request: Request) -> Response:
        lock = lock_of(request)
        limit = _int_query(request, "limit")
        limit = DEFAULT_LOG_LIMIT if limit is None else limit
        if limit < 1:
            raise errors.bad_parameter("limit", limit)
        entries = state.logs(
            lock,
            limit=min(limit, MAX_LOG_LIMIT),
            auth_id=request.query_params.get("authId"),
            action=_int_query(request, "action"),
            older_than=request.query_params.get("id"),
        )
        return _json(entries)

    lock_path = "/smartlock/{smartlock_id:int}"
    return [
        Route("/smartlock", list_smartlocks, methods=["GET"]),
        Route("/smartlock/auth", list_all_auths, methods=["GET"]),
        Route("/smartlock/auth", create_auths, methods=["PUT"]),
        Route("/smartlock/auth", update_auths, methods=["POST"]),
        Route("/smartlock/auth", delete_auths, methods=["DELETE"]),
        Route(lock_path, get_smartlock, methods=["GET"]),
        Route(f"{lock_path}/sync", sync, methods=["POST"]),
        Route(f"{lock_path}/auth", list_auths, methods=["GET"]),
        Route(f"{lock_path}/auth", create_auth, methods=["PUT"]),
        Route(f"{lock_path}/auth/{{auth_id}}", get_auth, methods=["GET"]),
        Route(f"{lock_path}/auth/{{auth_id}}", update_auth, methods=["POST"]),
        Route(f"{lock_path}/auth/{{auth_id}}", delete_auth, methods=["DELETE"]),
        Route(f"{lock_path}/action", action, methods=["POST"]),
        Route(f"{lock_path}/action/lock", fixed_action(LockAction.LOCK), methods=["POST"]),
        Route(f"{lock_path}/action/unlock", fixed_action(LockAction.UNLOCK), methods=["POST"]),
        Route(f"{lock_path}/log", logs, methods=["GET"]),
    ]
