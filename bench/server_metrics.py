"""What the Temporal dev server did, from its Prometheus endpoint: the frontend's requests by
operation and the visibility store's writes by operation (with the time they took).

On a small machine the server's work per change bounds a rollout as much as the worker's: each
``RespondWorkflowTaskCompleted``, ``RecordActivityTaskHeartbeat`` or search-attribute upsert is a
request the server persists. The benchmarks scrape ``/metrics`` before and after a rollout and
print the difference per change. Counters only grow, so a difference is what happened between
the two scrapes (any other client of the same server included: the benchmarks run alone).

Long polls (``Poll*`` operations) are left out: they are a worker waiting for work, counted
when they return, and say nothing about what a change cost.

The server reports its counters about once a second and writes visibility records from a queue
of its own, so a scrape right after a rollout can miss its last writes (and one right before it
can still see the writes of what ran just earlier). :func:`scrape_settled` scrapes until two
scrapes a second apart agree.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

FRONTEND_REQUESTS = "service_requests"
VISIBILITY_REQUESTS = "visibility_persistence_requests"
VISIBILITY_LATENCY_SUM = "visibility_persistence_latency_sum"
# The visibility operations that write (the rest read: list, count, get).
VISIBILITY_WRITES = frozenset(
    {
        "RecordWorkflowExecutionStarted",
        "RecordWorkflowExecutionClosed",
        "UpsertWorkflowExecution",
        "DeleteWorkflowExecution",
    }
)

# Requests a worker sends on its own schedule, whatever it does.
LIVENESS = frozenset({"RecordWorkerHeartbeat"})

# name{label="value",...} value   (a sample line of the text exposition format)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse_samples(text: str) -> list[Sample]:
    """The samples of a Prometheus text exposition (comments and blank lines skipped)."""
    samples: list[Sample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name, labels, raw = match.groups()
        try:
            value = float(raw)
        except ValueError:
            continue
        samples.append(Sample(name, dict(_LABEL.findall(labels or "")), value))
    return samples


@dataclass(frozen=True)
class ServerOps:
    """Counters of the server at one instant (or the difference of two)."""

    # Frontend requests of the given namespace, by operation (long polls left out).
    frontend: dict[str, float] = field(default_factory=dict)
    # Visibility store writes, by operation, and the seconds they took.
    visibility: dict[str, float] = field(default_factory=dict)
    visibility_seconds: float = 0.0

    @classmethod
    def from_text(cls, text: str, namespace: str = "default") -> ServerOps:
        frontend: defaultdict[str, float] = defaultdict(float)
        visibility: defaultdict[str, float] = defaultdict(float)
        seconds = 0.0
        for sample in parse_samples(text):
            op = sample.labels.get("operation", "")
            if sample.name == FRONTEND_REQUESTS:
                if (
                    sample.labels.get("service_name") == "frontend"
                    and sample.labels.get("namespace") == namespace
                    and not op.startswith("Poll")
                ):
                    frontend[op] += sample.value
            elif op in VISIBILITY_WRITES:
                if sample.name == VISIBILITY_REQUESTS:
                    visibility[op] += sample.value
                elif sample.name == VISIBILITY_LATENCY_SUM:
                    seconds += sample.value
        return cls(dict(frontend), dict(visibility), seconds)

    def settled_like(self, other: ServerOps) -> bool:
        """Whether ``other`` counts the same work (the workers' own liveness requests aside)."""

        def work(ops: ServerOps) -> dict[str, float]:
            return {op: n for op, n in ops.frontend.items() if op not in LIVENESS}

        return work(self) == work(other) and self.visibility == other.visibility

    def since(self, before: ServerOps) -> ServerOps:
        """What happened between ``before`` and this scrape."""
        return ServerOps(
            frontend=_minus(self.frontend, before.frontend),
            visibility=_minus(self.visibility, before.visibility),
            visibility_seconds=max(0.0, self.visibility_seconds - before.visibility_seconds),
        )

    @property
    def frontend_total(self) -> float:
        return sum(self.frontend.values())

    @property
    def visibility_total(self) -> float:
        return sum(self.visibility.values())

    def figures(self, changes: int) -> dict[str, object]:
        """Per change, as the JSON reports hold them."""
        if changes <= 0:
            raise ValueError("per change needs at least one change")
        return {
            "frontend_requests_per_change": round(self.frontend_total / changes, 2),
            "frontend_by_operation": _per(self.frontend, changes),
            "visibility_writes_per_change": round(self.visibility_total / changes, 2),
            "visibility_by_operation": _per(self.visibility, changes),
            "visibility_ms_per_change": round(self.visibility_seconds * 1000 / changes, 1),
        }

    def lines(self, changes: int) -> list[str]:
        """The figures per change as the benchmarks print them."""
        figures = self.figures(changes)
        frontend = figures["frontend_by_operation"]
        visibility = figures["visibility_by_operation"]
        assert isinstance(frontend, dict) and isinstance(visibility, dict)
        return [
            f"Temporal frontend requests per change: {figures['frontend_requests_per_change']} "
            "(" + ", ".join(f"{op} {n:.2f}" for op, n in frontend.items()) + ")",
            f"visibility writes per change: {figures['visibility_writes_per_change']} ("
            + ", ".join(f"{op} {n:.2f}" for op, n in visibility.items())
            + f"), {figures['visibility_ms_per_change']} ms of the server per change",
        ]


def _minus(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    out = {op: n - before.get(op, 0.0) for op, n in after.items()}
    return {op: n for op, n in out.items() if n > 0}


def _per(counts: Mapping[str, float], changes: int) -> dict[str, float]:
    """Per change, the largest first (operations under 0.005 per change left out)."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {op: round(n / changes, 2) for op, n in ordered if round(n / changes, 2) > 0}


async def scrape(url: str | None) -> ServerOps | None:
    """The server's counters now (None without an endpoint, or when it does not answer)."""
    if url is None:
        return None
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(url)
            answer.raise_for_status()
    except httpx.HTTPError:
        return None
    return ServerOps.from_text(answer.text)


def server_lines(ops: ServerOps | None, changes: int, url: str) -> list[str]:
    """What a benchmark prints of the server's work (or why it cannot)."""
    if ops is None:
        return [f"Temporal server operations: unknown ({url} did not answer)"]
    return ops.lines(changes)


async def scrape_settled(
    url: str | None, *, step: float = 1.0, limit: float = 20.0
) -> ServerOps | None:
    """The server's counters once they stopped moving (two scrapes ``step`` apart agree), or
    the last scrape after ``limit`` seconds."""
    last = await scrape(url)
    give_up = time.monotonic() + limit
    while last is not None and time.monotonic() < give_up:
        await asyncio.sleep(step)
        now = await scrape(url)
        if now is None or now.settled_like(last):
            return now if now is not None else last
        last = now
    return last
