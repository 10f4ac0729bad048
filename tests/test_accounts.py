"""Many Nuki accounts served by one worker: an API-token account and an OAuth account whose
access token the fake cloud expires mid-run (a control-surface call, not a clock), a revoked
authorization failing clearly, and no credential in history or search attributes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client

from nukiflow.accounts import ApiToken, FileCredentialProvider, OAuthClient
from nukiflow.accounts.clients import AccountClients
from nukiflow.accounts.provider import AccountSpec
from nukiflow.client import NukiFlow
from nukiflow.contracts.action import ActionName, ActionStatus, lock_workflow_id
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.temporal.codec import EncryptionCodec, encrypted_key_id
from nukiflow.temporal.worker import account_workers, build_worker
from tests.conftest import CODEC_KEYS, FAST_TIMING, TOKEN
from tests.test_secrets import iter_payloads


@dataclass
class Accounts:
    """Two accounts of the fake cloud and one worker (main queue plus one queue each)."""

    flow: NukiFlow
    acme: str
    beta: str
    acme_token: str
    client_secret: str
    refresh_token: str
    clients: AccountClients


@pytest_asyncio.fixture(loop_scope="session")
async def accounts(
    temporal_client: Client,
    simulator: SimulatorServer,
    sim: SimulatorControl,
    task_queue: str,
) -> AsyncIterator[Accounts]:
    suffix = uuid.uuid4().hex[:8]
    # Account names name task queues: each test its own.
    acme, beta = f"acme-{suffix}", f"beta-{suffix}"
    acme_token = f"acme-api-token-{uuid.uuid4().hex}"
    client_id, client_secret = f"client-{suffix}", f"client-secret-{uuid.uuid4().hex}"
    refresh_token = f"refresh-{uuid.uuid4().hex}"
    await sim.add_account(acme, api_tokens=[acme_token])
    await sim.add_account(
        beta, client_id=client_id, client_secret=client_secret, refresh_tokens=[refresh_token]
    )
    provider = FileCredentialProvider(
        {
            acme: (AccountSpec(acme), ApiToken(token=SecretStr(acme_token))),
            beta: (
                AccountSpec(beta, activities_per_second=500),
                OAuthClient(
                    client_id=client_id,
                    client_secret=SecretStr(client_secret),
                    refresh_token=SecretStr(refresh_token),
                ),
            ),
        },
        default_token=TOKEN,
    )
    async with AsyncExitStack() as stack:
        clients = await AccountClients.open(provider, simulator.base_url)
        await stack.enter_async_context(clients)
        flow = NukiFlow(
            temporal_client, task_queue=task_queue, timing=FAST_TIMING, accounts=clients.resolver()
        )
        shutdown = timedelta(seconds=1)
        main = build_worker(
            temporal_client, clients[None], task_queue, flow=flow, graceful_shutdown=shutdown
        )
        for worker in [
            main,
            *account_workers(temporal_client, clients, flow, graceful_shutdown=shutdown),
        ]:
            await stack.enter_async_context(worker)
        yield Accounts(flow, acme, beta, acme_token, client_secret, refresh_token, clients)


async def _keypad(sim: SimulatorControl, account: str) -> tuple[int, str]:
    lock = await sim.add_lock(account=account)
    auth = await sim.add_auth(lock.smartlock_id, name="Guest", code=535353)
    return lock.smartlock_id, auth.id


async def _attributes(client: Client, workflow_id: str) -> dict[str, object]:
    description = await client.get_workflow_handle(workflow_id).describe()
    return {pair.key.name: pair.value for pair in description.typed_search_attributes}


async def test_one_worker_serves_two_accounts_and_renews_an_expired_oauth_token(
    accounts: Accounts,
    sim: SimulatorControl,
    simulator: SimulatorServer,
    temporal_client: Client,
) -> None:
    flow = accounts.flow
    lock_a, auth_a = await _keypad(sim, accounts.acme)
    lock_b, auth_b = await _keypad(sim, accounts.beta)

    # Named by the caller, and found by the resolver (each account listed once).
    first_a = await flow.update_auth(lock_a, auth_a, {"code": 565656}, account=accounts.acme)
    first_b = await flow.update_auth(lock_b, auth_b, {"code": 575757})
    assert first_a.status is OutcomeStatus.APPLIED, first_a.reason
    assert first_b.status is OutcomeStatus.APPLIED, first_b.reason
    assert (await sim.device(lock_a)).auths[0].code == 565656
    assert (await sim.device(lock_b)).auths[0].code == 575757
    assert (await sim.account(accounts.beta)).access_tokens_issued == 1

    # The fake cloud ends the OAuth access token: the next request answers 401, the client
    # renews once and sends it again, and the change lands.
    await sim.expire_tokens(accounts.beta)
    second_b = await flow.update_auth(lock_b, auth_b, {"name": "Guest 2"})
    assert second_b.status is OutcomeStatus.APPLIED, second_b.reason
    beta = await sim.account(accounts.beta)
    assert beta.access_tokens_issued == 2 and beta.token_requests_refused == 0
    refused = [r for r in await sim.requests() if r.status == 401]
    assert refused, "the expired token was never refused: the renewal was not exercised"

    # A lock action of the OAuth account goes through its queue too.
    done = await flow.action(lock_b, ActionName.UNLOCK, deadline=timedelta(seconds=30))
    assert done.status is ActionStatus.CONFIRMED, done.reason

    # Each workflow carries its account, by name, as a search attribute.
    entity_a, entity_b = auth_workflow_id(lock_a, auth_a), auth_workflow_id(lock_b, auth_b)
    assert (await _attributes(temporal_client, entity_a))["NukiAccount"] == accounts.acme
    assert (await _attributes(temporal_client, entity_b))["NukiAccount"] == accounts.beta
    lock_attributes = await _attributes(temporal_client, lock_workflow_id(lock_b))
    assert lock_attributes["NukiAccount"] == accounts.beta

    # No credential anywhere in what Temporal keeps, decrypted or not.
    issued = list(simulator.state.accounts.accounts[accounts.beta].access_tokens)
    secrets = [accounts.acme_token, accounts.client_secret, accounts.refresh_token, TOKEN, *issued]
    codec = EncryptionCodec(CODEC_KEYS)
    decrypted = b""
    for workflow_id in (entity_a, entity_b, lock_workflow_id(lock_b)):
        handle = temporal_client.get_workflow_handle(workflow_id)
        description = await handle.describe()
        kept = str(description.raw_description).encode()
        history = await handle.fetch_history()
        for event in history.events:
            kept += event.SerializeToString()
            for _, payload in iter_payloads(event):
                if encrypted_key_id(payload) == CODEC_KEYS.current.key_id:
                    (plain,) = await codec.decode([payload])
                    decrypted += plain.data
        leaked = [s for s in secrets if s.encode() in kept or s.encode() in decrypted]
        assert not leaked, f"{workflow_id} keeps a credential"
    # The control: the account's name is what the histories carry.
    assert accounts.beta.encode() in decrypted


async def test_a_revoked_oauth_account_fails_clearly_and_the_other_goes_on(
    accounts: Accounts, sim: SimulatorControl
) -> None:
    flow = accounts.flow
    lock_a, auth_a = await _keypad(sim, accounts.acme)
    lock_b, auth_b = await _keypad(sim, accounts.beta)
    first = await flow.update_auth(lock_b, auth_b, {"code": 585858}, account=accounts.beta)
    assert first.status is OutcomeStatus.APPLIED, first.reason

    await sim.revoke_account(accounts.beta)
    refused = await flow.update_auth(lock_b, auth_b, {"code": 595959}, account=accounts.beta)
    assert refused.status is OutcomeStatus.FAILED
    reason = refused.reason or ""
    assert f"OAuth access token for account {accounts.beta}" in reason, reason
    assert "authorize nukiflow for this account again" in reason, reason
    for secret in (accounts.client_secret, accounts.refresh_token):
        assert secret not in reason
    # Refused by the token endpoint once, not retried on: a person has to act.
    assert (await sim.account(accounts.beta)).token_requests_refused == 1
    assert (await sim.device(lock_b)).auths[0].code == 585858

    # The other account is not touched by it.
    other = await flow.update_auth(lock_a, auth_a, {"code": 565656}, account=accounts.acme)
    assert other.status is OutcomeStatus.APPLIED, other.reason


async def test_a_lock_of_no_configured_account_is_rejected_before_anything_starts(
    accounts: Accounts, sim: SimulatorControl
) -> None:
    await sim.add_account(f"other-{uuid.uuid4().hex[:8]}", api_tokens=["not-configured"])
    stranger = await sim.add_lock()
    # The default account (the server token) holds it: resolved to no account.
    assert await accounts.clients.resolver().account_of(stranger.smartlock_id) is None
    outcome = await accounts.flow.update_auth(
        9_999_999_999, "5f2a0c8e4b1d9a7c3e6f0b12", {"code": 565656}
    )
    assert outcome.status is OutcomeStatus.REJECTED
    assert "in none of the configured Nuki accounts" in (outcome.reason or "")


async def test_the_command_line_acts_on_and_lists_by_account(
    accounts: Accounts, sim: SimulatorControl, cli_env: dict[str, str]
) -> None:
    import asyncio
    import json

    from typer.testing import CliRunner, Result

    from nukiflow.cli import app

    lock, auth = await _keypad(sim, accounts.acme)
    other, _ = await _keypad(sim, accounts.beta)

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=cli_env)

    updated = await asyncio.to_thread(
        run,
        "auth",
        "update",
        str(lock),
        auth,
        "--code",
        "565656",
        "--account",
        accounts.acme,
        "--json",
    )
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["status"] == "applied"
    unlocked = await asyncio.to_thread(
        run, "unlock", str(other), "--account", accounts.beta, "--json"
    )
    assert unlocked.exit_code == 0, unlocked.output

    # Visibility may lag a moment behind the workflows' search attributes.
    for _ in range(50):
        listed = await asyncio.to_thread(run, "status", "--account", accounts.acme, "--json")
        report = json.loads(listed.stdout)
        if report["workflows"]:
            break
        await asyncio.sleep(0.2)
    assert report["account"] == accounts.acme
    assert {row["smartlock_id"] for row in report["workflows"]} == {lock}


async def test_fresh_histories_of_an_account_replay(
    accounts: Accounts, sim: SimulatorControl, temporal_client: Client
) -> None:
    """An entity, a create and a lock workflow of an OAuth account (its token renewed on the
    way), replayed; recorded as ``*_account`` (see tests/test_replay.py)."""
    from tests.test_replay import _check_and_record

    flow = accounts.flow
    lock, auth = await _keypad(sim, accounts.beta)
    assert (await flow.update_auth(lock, auth, {"code": 565656}, account=accounts.beta)).ok
    await sim.expire_tokens(accounts.beta)
    created = await flow.create_auth(
        lock, name="temp", code=575757, request_id="acct1", account=accounts.beta
    )
    assert created.status is OutcomeStatus.APPLIED, created.reason
    assert (await flow.action(lock, ActionName.UNLOCK, account=accounts.beta)).ok
    from nukiflow.contracts.entity import create_workflow_id

    ids = {
        "auth_entity_account": auth_workflow_id(lock, auth),
        "auth_create_account": create_workflow_id(lock, "acct1"),
        "lock_actions_account": lock_workflow_id(lock),
    }
    for name, workflow_id in ids.items():
        history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
        await _check_and_record(name, history)


async def test_an_accounts_workflows_run_on_its_workflow_queue_and_earlier_ones_keep_theirs(
    accounts: Accounts, sim: SimulatorControl, temporal_client: Client, task_queue: str
) -> None:
    """New entity, create and lock workflows of an account run on its own workflow queue (its
    pollers and slots, apart from other accounts' bursts); an entity of the account started on
    the workflows' queue before keeps running there and takes its changes."""
    from nukiflow.contracts.accounts import workflow_queue, workflow_queues_query
    from nukiflow.contracts.entity import AuthEntityInput, create_workflow_id
    from nukiflow.contracts.names import AUTH_ENTITY_WORKFLOW

    flow = accounts.flow
    own = workflow_queue(task_queue, accounts.acme)
    assert own == f"{task_queue}@{accounts.acme}"
    assert flow.workflow_queue(None) == task_queue

    async def queue_of(workflow_id: str) -> str:
        return (await temporal_client.get_workflow_handle(workflow_id).describe()).task_queue

    lock, auth = await _keypad(sim, accounts.acme)
    assert (await flow.update_auth(lock, auth, {"code": 565656}, account=accounts.acme)).ok
    created = await flow.create_auth(
        lock, name="temp", code=575757, request_id="own1", account=accounts.acme
    )
    assert created.status is OutcomeStatus.APPLIED and created.auth_id, created.reason
    assert (await flow.action(lock, ActionName.UNLOCK, account=accounts.acme)).ok
    for workflow_id in (
        auth_workflow_id(lock, auth),
        create_workflow_id(lock, "own1"),
        # The create hands its auth to an entity: a child, on the create's queue.
        auth_workflow_id(lock, created.auth_id),
        lock_workflow_id(lock),
    ):
        assert await queue_of(workflow_id) == own, workflow_id

    # An entity of the account started on the workflows' queue (before accounts had queues
    # of their own): Update-with-Start attaches to it, and it stays where it runs.
    earlier_lock, earlier_auth = await _keypad(sim, accounts.acme)
    earlier = auth_workflow_id(earlier_lock, earlier_auth)
    await temporal_client.start_workflow(
        AUTH_ENTITY_WORKFLOW,
        AuthEntityInput(
            smartlock_id=earlier_lock,
            auth_id=earlier_auth,
            timing=FAST_TIMING,
            account=accounts.acme,
        ),
        id=earlier,
        task_queue=task_queue,
    )
    changed = await flow.update_auth(
        earlier_lock, earlier_auth, {"code": 585858}, account=accounts.acme
    )
    assert changed.status is OutcomeStatus.APPLIED, changed.reason
    assert (await sim.device(earlier_lock)).auths[0].code == 585858
    assert await queue_of(earlier) == task_queue

    # Listing the workflows' queue finds both (visibility may lag a moment).
    import asyncio

    wanted = {auth_workflow_id(lock, auth), earlier}
    for _ in range(50):
        listed = {
            w.id async for w in temporal_client.list_workflows(workflow_queues_query(task_queue))
        }
        if wanted <= listed:
            break
        await asyncio.sleep(0.2)
    assert wanted <= listed


async def test_a_facade_hands_one_accounts_new_changes_to_temporal_a_few_at_a_time(
    accounts: Accounts, sim: SimulatorControl, temporal_client: Client, task_queue: str
) -> None:
    """While an account's starts fill the facade's bound, its next change waits in line in the
    facade and another account's change goes through; the one in line follows once a place
    frees up."""
    import asyncio

    flow = NukiFlow(
        temporal_client,
        task_queue=task_queue,
        timing=FAST_TIMING,
        accounts=accounts.clients.resolver(),
        max_starting_per_account=1,
    )
    lock_a, auth_a = await _keypad(sim, accounts.acme)
    lock_b, auth_b = await _keypad(sim, accounts.beta)
    async with flow.starting(accounts.acme):
        waiting = asyncio.ensure_future(
            flow.update_auth(lock_a, auth_a, {"code": 565656}, account=accounts.acme)
        )
        other = await asyncio.wait_for(
            flow.update_auth(lock_b, auth_b, {"code": 575757}, account=accounts.beta), 60
        )
        assert other.status is OutcomeStatus.APPLIED, other.reason
        assert not waiting.done()
        assert (await sim.device(lock_a)).auths[0].code == 535353
    first = await asyncio.wait_for(waiting, 60)
    assert first.status is OutcomeStatus.APPLIED, first.reason
    # Many at once through a bound of one: each in turn, all applied.
    locks = [await _keypad(sim, accounts.acme) for _ in range(3)]
    outcomes = await asyncio.gather(
        *(flow.update_auth(lock, auth, {"code": 585858}) for lock, auth in locks)
    )
    assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED] * 3, outcomes
    with pytest.raises(ValueError, match="max_starting_per_account"):
        NukiFlow(temporal_client, task_queue=task_queue, max_starting_per_account=0)
