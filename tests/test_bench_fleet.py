"""The fleet benchmark's arithmetic, without servers: what a change kind costs, the plan's mix of
them, the targets judged from given figures, and the command line's refusals."""

from __future__ import annotations

import calendar
import time

import pytest

from bench.bench_fleet import main
from bench.fleet_figures import (
    ENTITY_SCALE,
    MET,
    NOT_MEASURED,
    NOT_MET,
    TARGETS,
    KindCost,
    judge,
    mix_weighted,
    per_change,
    percentile,
)
from bench.fleet_parts import WorkerSettings, request_op, visibility_time
from bench.fleet_shape import Beside, ShapeFloors, time_limit
from bench.process_cpu import CpuSpent
from bench.rollout_parts import Shape
from bench.server_metrics import ServerOps, parse_samples, server_lines

UPDATE = KindCost(
    kind="update",
    changes=500,
    requests_by_op={
        "GET /smartlock/{id}/auth/{authId}": 1000,
        "POST /smartlock/{id}/auth/{authId}": 500,
    },
    events_by_type={"NukiAuthEntity": 13000, "NukiRollout": 2000},
    runs_by_type={"NukiAuthEntity": 500, "NukiRollout": 1},
    activities={"nuki.auth.write": 500, "nuki.fleet.apply_item": 500},
)
CREATE = KindCost(
    kind="create",
    changes=300,
    requests_by_op={"GET /smartlock/{id}/auth": 600, "PUT /smartlock/{id}/auth": 300},
    events_by_type={"NukiAuthCreate": 10500, "NukiAuthEntity": 1500, "NukiRollout": 1200},
)
DELETE = KindCost(
    kind="delete",
    changes=200,
    requests_by_op={
        "DELETE /smartlock/{id}/auth/{authId}": 200,
        "GET /smartlock/{id}/auth/{authId}": 200,
    },
    events_by_type={"NukiAuthEntity": 6000, "NukiRollout": 1000},
)
ALL_MET = {
    "rollout_x_temporal_floor": 1.9,
    "requests_per_change": 2.4,
    "history_events_per_change": 24.0,
    "entities_worker_peak_mib": 400.0,
    "entities_change_p50_x_delay": 1.2,
}


def test_a_kinds_cost_is_its_own_totals_per_change() -> None:
    assert (UPDATE.requests, UPDATE.events) == (1500, 15000)
    figures = UPDATE.figures()
    assert figures["requests_per_change"] == 3.0
    assert figures["requests_by_op"] == {
        "GET /smartlock/{id}/auth/{authId}": 2.0,
        "POST /smartlock/{id}/auth/{authId}": 1.0,
    }
    assert figures["history_events_per_change"] == 30.0
    assert figures["history_events_by_workflow_type"] == {
        "NukiAuthEntity": 26.0,
        "NukiRollout": 4.0,
    }
    assert figures["runs_by_workflow_type"] == {"NukiAuthEntity": 500, "NukiRollout": 1}
    assert figures["activities_by_type"] == {"nuki.auth.write": 1.0, "nuki.fleet.apply_item": 1.0}


def test_the_mix_weights_each_kind_by_its_count() -> None:
    mix = {"update": 500, "create": 300, "delete": 200}
    costs = [UPDATE, CREATE, DELETE]
    # (1500 + 900 + 400) / 1000 and (15000 + 13200 + 7000) / 1000.
    assert mix_weighted(costs, mix, lambda c: c.requests) == pytest.approx(2.8)
    assert mix_weighted(costs, mix, lambda c: c.events) == pytest.approx(35.2)
    # Another mix of the same kinds: each kind's per-change cost, reweighted.
    assert mix_weighted(costs, {"update": 1, "create": 1, "delete": 0}, lambda c: c.requests) == (
        pytest.approx((3.0 + 3.0) / 2)
    )


def test_a_mix_with_a_kind_never_measured_is_refused() -> None:
    with pytest.raises(ValueError, match="delete"):
        mix_weighted([UPDATE, CREATE], {"update": 5, "create": 3, "delete": 2}, lambda c: c.events)
    with pytest.raises(ValueError, match="no change"):
        mix_weighted([UPDATE], {"update": 0}, lambda c: c.events)


def test_a_cost_of_an_unknown_kind_or_of_no_change_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown change kind"):
        KindCost(kind="rename", changes=1, requests_by_op={}, events_by_type={})
    with pytest.raises(ValueError, match="at least one change"):
        KindCost(kind="update", changes=0, requests_by_op={}, events_by_type={})
    with pytest.raises(ValueError):
        per_change({"x": 1}, 0)


def test_per_change_keeps_the_order_and_rounds() -> None:
    assert list(per_change({"b": 2, "a": 1}, 3)) == ["b", "a"]
    assert per_change({"b": 2, "a": 1}, 3) == {"b": 0.67, "a": 0.33}
    assert per_change({"x": 2}, 3, 1) == {"x": 0.7}


def test_every_target_is_met_by_figures_within_it() -> None:
    verdicts = judge(ALL_MET, ENTITY_SCALE)
    assert [v.target.key for v in verdicts] == [t.key for t in TARGETS]
    assert {v.status for v in verdicts} == {MET}
    assert all(v.note == "" for v in verdicts)


def test_a_figure_over_its_limit_is_not_met_and_the_others_stay_met() -> None:
    figures = {**ALL_MET, "requests_per_change": 2.83, "entities_worker_peak_mib": 513.0}
    status = {v.target.key: v.status for v in judge(figures, ENTITY_SCALE)}
    assert status == {
        "rollout_x_temporal_floor": MET,
        "requests_per_change": NOT_MET,
        "history_events_per_change": MET,
        "entities_worker_peak_mib": NOT_MET,
        "entities_change_p50_x_delay": MET,
    }


def test_a_figure_is_judged_as_it_is_printed() -> None:
    # 2.504 prints as 2.50 (met); 2.506 as 2.51 (not met); a limit itself is met.
    def status(key: str, value: float) -> str:
        verdicts = judge({**ALL_MET, key: value}, ENTITY_SCALE)
        return next(v.status for v in verdicts if v.target.key == key)

    assert status("requests_per_change", 2.504) == MET
    assert status("requests_per_change", 2.506) == NOT_MET
    assert status("rollout_x_temporal_floor", 2.0) == MET
    assert status("history_events_per_change", 25.04) == MET
    assert status("history_events_per_change", 25.06) == NOT_MET
    assert status("entities_change_p50_x_delay", 1.25) == MET
    assert status("entities_change_p50_x_delay", 1.256) == NOT_MET


def test_what_a_run_did_not_measure_is_said_so_never_met() -> None:
    figures = {k: v for k, v in ALL_MET.items() if not k.startswith("entities_")}
    verdicts = {v.target.key: v for v in judge(figures, None)}
    assert verdicts["entities_worker_peak_mib"].status == NOT_MEASURED
    assert verdicts["entities_change_p50_x_delay"].value is None
    assert verdicts["requests_per_change"].status == MET
    # Entity figures without an entity count are not judged either.
    assert {v.status for v in judge(ALL_MET, None) if v.target.entities} == {NOT_MEASURED}
    line = verdicts["entities_worker_peak_mib"].line()
    assert line.endswith(NOT_MEASURED) and "target <= 512 MiB" in line


def test_entity_figures_at_another_scale_say_so() -> None:
    verdicts = {v.target.key: v for v in judge(ALL_MET, 1_000)}
    note = verdicts["entities_change_p50_x_delay"].note
    assert "1,000 entities" in note and "10,000" in note
    assert verdicts["entities_change_p50_x_delay"].status == MET
    assert verdicts["requests_per_change"].note == ""
    figures = verdicts["entities_worker_peak_mib"].figures()
    assert figures["limit"] == 512 and figures["status"] == MET
    # Memory is judged and shown in whole MiB.
    assert figures["value"] == 400 and isinstance(figures["value"], int)
    assert "400 MiB" in verdicts["entities_worker_peak_mib"].line()


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 21)]
    assert percentile(values, 0.5) in (10.0, 11.0)
    assert percentile(values, 0.95) == 19.0
    assert percentile(list(reversed(values)), 1.0) == 20.0
    assert percentile([3.0], 0.95) == 3.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_each_kind_alone_keeps_the_plans_per_lock_count() -> None:
    alone = Shape(updates=5, creates=3, deletes=2).alone()
    assert {kind: (s.updates, s.creates, s.deletes) for kind, s in alone.items()} == {
        "update": (5, 0, 0),
        "create": (0, 3, 0),
        "delete": (0, 0, 2),
    }


def test_requests_are_counted_by_method_and_path_template() -> None:
    assert request_op("GET", "/smartlock/123/auth/abc?x=1") == "GET /smartlock/{id}/auth/{authId}"
    assert request_op("PUT", "/smartlock/123/auth") == "PUT /smartlock/{id}/auth"
    assert request_op("GET", "/smartlock/123") == "GET /smartlock/{id}"


def test_visibility_queries_get_the_instant_to_the_millisecond() -> None:
    epoch = calendar.timegm(time.strptime("2026-03-01T10:20:30", "%Y-%m-%dT%H:%M:%S")) + 0.25
    assert visibility_time(epoch) == "2026-03-01T10:20:30.250Z"


def test_the_worker_settings_say_temporals_default_cache() -> None:
    assert WorkerSettings().figures() == {
        "max_cached_workflows": 1000,
        "max_concurrent_activities": 1000,
    }
    assert "(Temporal's default)" in WorkerSettings().describe()
    assert "max_cached_workflows=200," in WorkerSettings(max_cached=200).describe()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--locks", "0"], "--locks must be at least 1"),
        (["--changes", "0"], "--changes must be at least 1"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--updates", "0", "--creates", "0", "--deletes", "0"], "not all 0"),
        (["--deletes", "-1"], "0 or more"),
        (["--device-delay", "0"], "--device-delay must be more than 0"),
    ],
)
def test_the_command_line_refuses_sizes_it_cannot_run(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


VIS, VIS_SECONDS = "visibility_persistence_requests", "visibility_persistence_latency_sum"
RESPOND = "RespondWorkflowTaskCompleted"
STARTED = "RecordWorkflowExecutionStarted"
LIST = "ListWorkflowExecutions"


def req(value: float, op: str, service: str = "frontend", namespace: str = "default") -> str:
    """A frontend (or other service's) request counter line, as the dev server prints it."""
    labels = f'namespace="{namespace}",operation="{op}",service_name="{service}"'
    return f"service_requests{{{labels}}} {value}"


def vis(name: str, value: float, op: str) -> str:
    """A visibility store counter line."""
    return (
        f'{name}{{operation="{op}",service_name="history",visibility_plugin_name="sqlite"}} {value}'
    )


BEFORE = "\n".join(
    [
        "# HELP service_requests service_requests counter",
        "# TYPE service_requests counter",
        req(100, RESPOND),
        req(100, RESPOND, service="history"),
        req(7, "PollWorkflowTaskQueue"),
        req(2, "StartWorkflowExecution", namespace="temporal_system"),
        vis(VIS, 10, STARTED),
        vis(VIS, 3, LIST),
        vis(VIS_SECONDS, 0.15, STARTED),
        vis(VIS_SECONDS, 9.0, LIST),
        "",
    ]
)
AFTER = "\n".join(
    [
        req(400, RESPOND),
        req(400, RESPOND, service="history"),
        req(50, "RecordActivityTaskHeartbeat"),
        req(900, "PollWorkflowTaskQueue"),
        req(9, "StartWorkflowExecution", namespace="temporal_system"),
        vis(VIS, 110, STARTED),
        vis(VIS, 200, "UpsertWorkflowExecution"),
        vis(VIS, 50, LIST),
        vis(VIS_SECONDS, 1.65, STARTED),
        vis(VIS_SECONDS, 3.0, "UpsertWorkflowExecution"),
        vis(VIS_SECONDS, 90.0, LIST),
    ]
)


def test_metrics_samples_are_parsed_with_their_labels() -> None:
    samples = parse_samples(BEFORE)
    assert len(samples) == 8
    first = samples[0]
    assert first.name == "service_requests"
    assert first.labels == {
        "namespace": "default",
        "operation": RESPOND,
        "service_name": "frontend",
    }
    assert first.value == 100
    assert samples[4].labels["visibility_plugin_name"] == "sqlite"


def test_server_ops_count_the_frontend_of_the_namespace_and_visibility_writes() -> None:
    ops = ServerOps.from_text(AFTER)
    # The history service's own count, the system namespace and long polls are not a change's.
    assert ops.frontend == {"RespondWorkflowTaskCompleted": 400, "RecordActivityTaskHeartbeat": 50}
    # Visibility reads (the benchmark's own listing) are no write.
    assert ops.visibility == {"RecordWorkflowExecutionStarted": 110, "UpsertWorkflowExecution": 200}
    assert ops.visibility_seconds == pytest.approx(4.65)


def test_server_ops_per_change_are_the_difference_of_two_scrapes() -> None:
    done = ServerOps.from_text(AFTER).since(ServerOps.from_text(BEFORE))
    figures = done.figures(100)
    assert figures == {
        "frontend_requests_per_change": 3.5,
        "frontend_by_operation": {
            "RespondWorkflowTaskCompleted": 3.0,
            "RecordActivityTaskHeartbeat": 0.5,
        },
        "visibility_writes_per_change": 3.0,
        "visibility_by_operation": {
            "UpsertWorkflowExecution": 2.0,
            "RecordWorkflowExecutionStarted": 1.0,
        },
        "visibility_ms_per_change": 45.0,
    }
    lines = done.lines(100)
    assert lines[0].startswith("Temporal frontend requests per change: 3.5 (")
    assert "UpsertWorkflowExecution 2.00" in lines[1]
    with pytest.raises(ValueError):
        done.figures(0)


def test_a_server_that_did_not_answer_is_said_so() -> None:
    url = "http://127.0.0.1:1/metrics"
    assert server_lines(None, 10, url) == [
        f"Temporal server operations: unknown ({url} did not answer)"
    ]


def test_scrapes_agree_when_only_the_workers_liveness_moved() -> None:
    before = ServerOps.from_text(AFTER)
    assert before.settled_like(ServerOps.from_text(AFTER + "\n" + req(3, "RecordWorkerHeartbeat")))
    assert not before.settled_like(
        ServerOps.from_text(AFTER + "\n" + req(1, "StartWorkflowExecution"))
    )
    assert not before.settled_like(
        ServerOps.from_text(AFTER + "\n" + vis(VIS, 1, "UpsertWorkflowExecution"))
    )


def _beside(floor_seconds: float, seconds: float) -> Beside:
    return Beside(
        floor_seconds=floor_seconds,
        seconds=seconds,
        cpu_floor=CpuSpent(server_ms=10.0, worker_ms=2.0),
        cpu=CpuSpent(server_ms=15.0, worker_ms=6.0),
    )


def test_the_shape_figures_set_the_rollout_against_the_shape_each_on_its_own_floor() -> None:
    floors = ShapeFloors(changes=1000, shape=_beside(8.0, 16.0), direct=_beside(7.0, 12.6))
    figures = floors.figures(4.5)
    assert figures["changes"] == 1000
    assert figures["seconds"] == 16.0 and figures["temporal_floor_seconds"] == 8.0
    assert figures["x_temporal_floor"] == 2.0
    # 4.5x its own floor against the shape's 2.0x its own.
    assert figures["rollout_x_shape"] == 2.25
    assert figures["cpu"]["server_x_floor"] == 1.5 and figures["cpu"]["both_x_floor"] == 1.75
    assert figures["direct"]["x_temporal_floor"] == 1.8
    assert set(figures["direct"]) == {
        "seconds",
        "temporal_floor_seconds",
        "x_temporal_floor",
        "cpu",
    }


def test_a_shape_without_its_direct_yardstick_or_a_rollout_keeps_what_was_measured() -> None:
    figures = ShapeFloors(changes=10, shape=_beside(1.0, 3.0), direct=None).figures(None)
    assert figures["direct"] is None and figures["rollout_x_shape"] is None
    assert figures["x_temporal_floor"] == 3.0


def test_a_yardstick_may_take_ten_times_the_devices_time_and_ten_minutes() -> None:
    # 1,000 changes 100 at a time: 10 rounds of 1 s.
    assert time_limit(1000, 100, 1.0) == 700.0
    assert time_limit(101, 100, 2.0) == 640.0
