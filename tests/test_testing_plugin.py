"""nukiflow.testing works as a pytest plugin in a suite that has no conftest of ours."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TEST = """
from nukiflow import OutcomeStatus


async def test_code_change(sim, flow, worker):
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="Guest", code=535353)
    outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 565656})
    assert outcome.status is OutcomeStatus.APPLIED
    device = await sim.device(lock.smartlock_id)
    assert [a.code for a in device.auths if a.id == auth.id] == [565656]


async def test_a_fault_is_provoked(sim, nuki):
    from nukiflow.simulator.settings import Faults
    from nukiflow.activities.nuki_errors import NukiForbiddenError

    lock = await sim.add_lock()
    await sim.set_faults(Faults(forbidden=True), lock.smartlock_id)
    try:
        await nuki.list_auths(lock.smartlock_id)
    except NukiForbiddenError:
        return
    raise AssertionError("the fault was not provoked")
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""


def test_a_users_suite_gets_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_user=USER_TEST)
    # A separate process, as a user's own `pytest` run: the plugin comes from the entry point.
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
