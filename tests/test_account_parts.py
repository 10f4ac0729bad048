"""The parts of many accounts, each on its own: account names and queues, the accounts file,
OAuth renewal on the fake cloud's token endpoint, which account holds a lock, what a token sees
of another account's lock, the per-account workers and the command line's --account."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.client import Client
from typer.testing import CliRunner

from nukiflow.accounts import (
    AccountsFileError,
    ApiToken,
    FileCredentialProvider,
    LockNotInAnyAccount,
    OAuthClient,
    OAuthTokens,
    read_accounts_file,
)
from nukiflow.accounts.clients import AccountClients
from nukiflow.accounts.provider import AccountSpec
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import (
    NukiCredentialsRefused,
    NukiNotFoundError,
    NukiRequestRefused,
    NukiUnauthorizedError,
)
from nukiflow.cli import app
from nukiflow.cli.status import status_query
from nukiflow.client import NukiFlow
from nukiflow.contracts.accounts import AccountName, activity_queue, check_account_name
from nukiflow.contracts.entity import AuthEntityInput
from nukiflow.contracts.validation import InputError
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import SimSettings
from nukiflow.temporal.worker import account_workers
from tests.conftest import TOKEN

TOML = """
[accounts.acme]
token = "acme-secret-token"
activities_per_second = 5

[accounts.beta]
client_id = "beta-client"
client_secret = "beta-client-secret"
refresh_token = "beta-refresh"
"""


def _private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


# ---- names and queues -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["acme", "customer-17", "a", "0" * 40])
def test_account_names(name: str) -> None:
    assert check_account_name(name) == name
    assert activity_queue(name) == f"nukiflow-nuki-{name}"


@pytest.mark.parametrize("name", ["", "Acme", "-acme", "acme-", "a b", "a/b", "x" * 41, "ä", 5])
def test_bad_account_names_say_what_works(name: object) -> None:
    with pytest.raises(InputError, match="lower-case letters, digits and dashes"):
        check_account_name(name)


def test_no_account_keeps_the_workflows_own_queue_and_old_inputs_decode() -> None:
    assert activity_queue(None) is None
    recorded = {"smartlock_id": 5, "auth_id": "5f2a0c8e4b1d9a7c3e6f0b12"}
    assert AuthEntityInput.model_validate_json(json.dumps(recorded)).account is None
    with pytest.raises(ValueError, match="account name"):
        AuthEntityInput(smartlock_id=5, auth_id="5f2a0c8e4b1d9a7c3e6f0b12", account="Bad Name")
    assert AccountName is not None


# ---- the accounts file --------------------------------------------------------------------------


async def test_the_accounts_file_in_toml_and_json(tmp_path: Path) -> None:
    accounts = read_accounts_file(_private(tmp_path / "accounts.toml", TOML))
    spec, acme = accounts["acme"]
    assert spec.activities_per_second == 5
    assert isinstance(acme, ApiToken) and acme.token.get_secret_value() == "acme-secret-token"
    _, beta = accounts["beta"]
    assert isinstance(beta, OAuthClient) and beta.client_id == "beta-client"
    assert "beta-client-secret" not in repr(beta) and "acme-secret-token" not in repr(acme)

    as_json = {"accounts": {"acme": {"token": "t"}}}
    assert "acme" in read_accounts_file(_private(tmp_path / "a.json", json.dumps(as_json)))

    provider = FileCredentialProvider(accounts, default_token="default-token", default_rate=7)
    specs = {spec.name: spec.activities_per_second for spec in await provider.accounts()}
    assert specs == {None: None, "acme": 5, "beta": 7}
    assert isinstance(await provider.credentials(None), ApiToken)
    with pytest.raises(LookupError, match="account gamma"):
        await provider.credentials("gamma")
    assert {"acme-secret-token", "beta-refresh", "default-token"} <= set(provider.secret_values())


def test_an_accounts_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = _private(tmp_path / "accounts.toml", TOML, mode=0o644)
    with pytest.raises(AccountsFileError, match="chmod 600"):
        read_accounts_file(path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[accounts.acme]\ntoken = 'x'\nclient_id = 'c'\n", "either `token` or the OAuth"),
        ("[accounts.acme]\nclient_id = 'c'\n", "`client_id` and `client_secret`"),
        ("[accounts.Acme]\ntoken = 'x'\n", "account name"),
        ("[accounts.acme]\ntokn = 'super-secret'\n", "tokn"),
        ("accounts = 3\n", "no `accounts` table"),
        ("[accounts.acme\n", "not valid TOML"),
    ],
)
def test_a_bad_accounts_file_says_what_to_fix_without_quoting_secrets(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(AccountsFileError) as refused:
        read_accounts_file(_private(tmp_path / "accounts.toml", text))
    assert says in str(refused.value)
    assert "super-secret" not in str(refused.value)


# ---- the fake cloud's accounts and OAuth --------------------------------------------------------


async def _oauth(server: SimulatorServer, sim: SimulatorControl, name: str) -> OAuthTokens:
    await sim.add_account(name, client_id="cid", client_secret="csecret", refresh_tokens=["rt"])
    client = OAuthClient(
        client_id="cid", client_secret=SecretStr("csecret"), refresh_token=SecretStr("rt")
    )
    return OAuthTokens(client, server.base_url, account=name)


async def test_concurrent_requests_share_one_renewal(
    simulator: SimulatorServer, sim: SimulatorControl
) -> None:
    tokens = await _oauth(simulator, sim, "beta")
    lock = await sim.add_lock(account="beta")
    async with NukiClient(tokens, simulator.base_url, account="beta") as nuki:
        await nuki.get_smartlock(lock.smartlock_id)
        await sim.expire_tokens("beta")
        await asyncio.gather(*(nuki.get_smartlock(lock.smartlock_id) for _ in range(8)))
    await tokens.aclose()
    assert tokens.renewals == 2
    assert (await sim.account("beta")).access_tokens_issued == 2


async def test_a_revoked_authorization_is_not_retryable_and_quotes_no_secret(
    simulator: SimulatorServer, sim: SimulatorControl
) -> None:
    tokens = await _oauth(simulator, sim, "beta")
    lock = await sim.add_lock(account="beta")
    async with NukiClient(tokens, simulator.base_url, account="beta") as nuki:
        await nuki.get_smartlock(lock.smartlock_id)
        await sim.revoke_account("beta")
        with pytest.raises(NukiCredentialsRefused) as refused:
            await nuki.get_smartlock(lock.smartlock_id)
    await tokens.aclose()
    assert not refused.value.retryable
    message = str(refused.value)
    assert "invalid_grant" in message and "account beta" in message
    assert not any(secret in message for secret in tokens.secret_values())


async def test_a_wrong_client_secret_is_refused_as_such(
    simulator: SimulatorServer, sim: SimulatorControl
) -> None:
    await sim.add_account("beta", client_id="cid", client_secret="right")
    client = OAuthClient(client_id="cid", client_secret=SecretStr("wrong"))
    tokens = OAuthTokens(client, simulator.base_url, account="beta")
    with pytest.raises(NukiCredentialsRefused, match="invalid_client"):
        await tokens.token()
    await tokens.aclose()


async def test_a_token_sees_only_its_accounts_locks(
    simulator: SimulatorServer, sim: SimulatorControl
) -> None:
    await sim.add_account("acme", api_tokens=["acme-token"])
    own = await sim.add_lock(account="acme")
    other = await sim.add_lock()
    async with NukiClient("acme-token", simulator.base_url, account="acme") as nuki:
        assert [lock.smartlock_id for lock in await nuki.list_smartlocks()] == [own.smartlock_id]
        # Harsher than a 404 by default: it looks like a dead token.
        with pytest.raises(NukiUnauthorizedError, match="belongs to account acme"):
            await nuki.get_smartlock(other.smartlock_id)
        with pytest.raises(NukiUnauthorizedError):
            await nuki.list_auths(other.smartlock_id)
        assert await nuki.list_all_auths() == []
        await sim.set_settings(SimSettings(foreign_lock_status=404))
        with pytest.raises(NukiNotFoundError):
            await nuki.get_smartlock(other.smartlock_id)


async def test_the_resolver_lists_each_account_once_and_asks_again_for_news(
    simulator: SimulatorServer, sim: SimulatorControl
) -> None:
    await sim.add_account("acme", api_tokens=["acme-token"])
    provider = FileCredentialProvider(
        {"acme": (AccountSpec("acme"), ApiToken(token=SecretStr("acme-token")))},
        default_token=TOKEN,
    )
    async with await AccountClients.open(provider, simulator.base_url) as clients:
        resolver = clients.resolver(ttl=3600)
        mine = await sim.add_lock(account="acme")
        default = await sim.add_lock()
        found = await asyncio.gather(
            resolver.account_of(mine.smartlock_id), resolver.account_of(default.smartlock_id)
        )
        assert found == ["acme", None] and resolver.listings == 1
        assert await resolver.account_of(mine.smartlock_id) == "acme"
        assert resolver.listings == 1
        later = await sim.add_lock(account="acme")
        assert await resolver.account_of(later.smartlock_id) == "acme"
        assert resolver.listings == 2
        resolver.forget(mine.smartlock_id)
        assert await resolver.account_of(mine.smartlock_id) == "acme"
        assert resolver.listings == 3
        with pytest.raises(LockNotInAnyAccount, match="none of the configured Nuki accounts"):
            await resolver.account_of(12345)


async def test_without_a_default_account_nothing_is_sent(
    simulator: SimulatorServer, sim: SimulatorControl
) -> None:
    provider = FileCredentialProvider({})
    async with await AccountClients.open(provider, simulator.base_url) as clients:
        with pytest.raises(NukiRequestRefused, match="no default account is configured"):
            await clients[None].list_smartlocks()
    assert await sim.requests() == []


# ---- workers, facade and command line ------------------------------------------------------------


async def test_each_account_gets_a_workflow_queue_and_a_rate_limited_activity_queue(
    temporal_client: Client, simulator: SimulatorServer
) -> None:
    provider = FileCredentialProvider(
        {
            "acme": (AccountSpec("acme", 5), ApiToken(token=SecretStr("a"))),
            "beta": (AccountSpec("beta"), ApiToken(token=SecretStr("b"))),
        },
        default_token=TOKEN,
        default_rate=9,
    )
    async with await AccountClients.open(provider, simulator.base_url) as clients:
        flow = NukiFlow(temporal_client, task_queue="unused")
        workers = account_workers(
            temporal_client, clients, flow, workflow_tasks=4, max_concurrent_workflow_tasks=99
        )
        configs = {
            w.task_queue: w.config().get("max_task_queue_activities_per_second") for w in workers
        }
        slots = {w.task_queue: w.config().get("max_concurrent_workflow_tasks") for w in workers}
    assert configs == {
        "nukiflow-nuki-acme": 5,
        "nukiflow-nuki-beta": 9,
        # Each account's workflows: a queue of their own beside the facade's, with slots
        # bounded apart from the default account's.
        "unused@acme": None,
        "unused@beta": None,
    }
    assert slots["unused@acme"] == slots["unused@beta"] == 4


async def test_a_bad_account_is_rejected_before_anything_starts(temporal_client: Client) -> None:
    flow = NukiFlow(temporal_client, task_queue="unused")
    outcome = await flow.update_auth(5, "5f2a0c8e4b1d9a7c3e6f0b12", {"code": 565656}, account="A B")
    assert outcome.status.value == "rejected" and "account name" in (outcome.reason or "")


def test_status_filters_by_account() -> None:
    assert status_query("q", None, "acme").endswith(" AND NukiAccount = 'acme'")
    with pytest.raises(InputError):
        status_query("q", None, "acme' OR 1=1")


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--account", "Not Valid"],
        ["unlock", "5", "--account", "x/y"],
        ["auth", "delete", "5", "5f2a0c8e4b1d9a7c3e6f0b12", "--account", "UPPER"],
    ],
)
def test_the_command_line_refuses_a_bad_account(args: list[str]) -> None:
    result = CliRunner().invoke(app, args, env={"NUKIFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1"})
    assert result.exit_code == 2, result.output
    assert "--account" in result.output and "account name" in result.output


def test_a_plan_item_may_name_its_account() -> None:
    from nukiflow.fleet.plan import PlanError, parse_plan

    auth = "5f2a0c8e4b1d9a7c3e6f0b12"
    plan = parse_plan(
        {
            "items": [
                {"op": "delete", "smartlock_id": 1, "auth_id": auth, "account": "acme"},
                {"op": "update", "smartlock_id": 2, "auth_id": auth, "name": "X"},
            ]
        }
    )
    assert [item.account for item in plan.items] == ["acme", None]
    with pytest.raises(PlanError, match="account name"):
        parse_plan(
            {"items": [{"op": "delete", "smartlock_id": 1, "auth_id": auth, "account": "A"}]}
        )
