"""The fleet benchmark's arithmetic, apart from any server: per-change rates, the cost of each
change kind and of the plan's mix of them, percentiles, and the targets judged from figures.

Everything here takes plain figures and returns plain figures, so tests/test_bench_fleet.py
checks it without a dev server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

KINDS = ("update", "create", "delete")
# The scale the entity targets are set for.
ENTITY_SCALE = 10_000

MET, NOT_MET, NOT_MEASURED = "met", "not met", "not measured"


def per_change(counts: Mapping[str, int], changes: int, digits: int = 2) -> dict[str, float]:
    """Each count divided by the number of changes, in the counts' order."""
    if changes <= 0:
        raise ValueError("per change needs at least one change")
    return {key: round(value / changes, digits) for key, value in counts.items()}


@dataclass(frozen=True)
class KindCost:
    """What a rollout of one change kind alone cost: every Nuki request and every history
    event in it belongs to that kind."""

    kind: str
    changes: int
    requests_by_op: dict[str, int]
    events_by_type: dict[str, int]
    runs_by_type: dict[str, int] = field(default_factory=dict)
    activities: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown change kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.changes <= 0:
            raise ValueError(f"a {self.kind} rollout needs at least one change")

    @property
    def requests(self) -> int:
        return sum(self.requests_by_op.values())

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())

    def figures(self) -> dict[str, object]:
        """The kind's figures as the JSON report holds them."""
        return {
            "changes": self.changes,
            "seconds": round(self.seconds, 2),
            "requests_per_change": round(self.requests / self.changes, 2),
            "requests_by_op": per_change(self.requests_by_op, self.changes),
            "history_events_per_change": round(self.events / self.changes, 1),
            "history_events_by_workflow_type": per_change(self.events_by_type, self.changes, 1),
            "runs_by_workflow_type": dict(self.runs_by_type),
            "activities_by_type": per_change(self.activities, self.changes),
        }


def mix_weighted(
    costs: Sequence[KindCost], mix: Mapping[str, int], measure: Callable[[KindCost], int]
) -> float:
    """The per-change cost of a plan with ``mix`` changes of each kind, from each kind's own
    per-change cost (``measure``: a cost's total of what is counted)."""
    by_kind = {cost.kind: cost for cost in costs}
    missing = [kind for kind, n in mix.items() if n and kind not in by_kind]
    if missing:
        raise ValueError(f"no cost measured for {', '.join(missing)}")
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("the mix has no change")
    spent = sum(measure(by_kind[kind]) / by_kind[kind].changes * n for kind, n in mix.items() if n)
    return spent / total


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    limit: float
    unit: str
    # Judged at the precision the figure is printed with.
    digits: int = 2
    # Set for ENTITY_SCALE live entities.
    entities: bool = False

    def show(self, value: float) -> str:
        return f"{value:.{self.digits}f}{self.unit}"


TARGETS = (
    Target("rollout_x_temporal_floor", "rollout wall time / Temporal floor", 2.0, "x"),
    Target("requests_per_change", "Nuki requests per change", 2.5, ""),
    Target("history_events_per_change", "history events per change", 25.0, "", digits=1),
    Target(
        "entities_worker_peak_mib",
        "10,000 live entities: worker peak RSS",
        512,
        " MiB",
        digits=0,
        entities=True,
    ),
    Target(
        "entities_change_p50_x_delay",
        "10,000 live entities: one change p50",
        1.25,
        "x device delay",
        entities=True,
    ),
)


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: float | None
    status: str
    note: str = ""

    def line(self) -> str:
        limit = f"target <= {self.target.show(self.target.limit)}"
        shown = "-" if self.value is None else self.target.show(self.value)
        note = f" ({self.note})" if self.note else ""
        return f"{self.target.label:<40} {shown:>18}   {limit:<32} {self.status}{note}"

    def figures(self) -> dict[str, object]:
        return {
            "label": self.target.label,
            "value": self.value,
            "limit": self.target.limit,
            "status": self.status,
            "note": self.note,
        }


def judge(figures: Mapping[str, float | None], entities: int | None) -> list[Verdict]:
    """Each target beside its figure: met when the figure, rounded as printed, is at most the
    limit; not measured when the run has no such figure. ``entities``: how many live entities
    the entity figures were measured with (None: not measured)."""
    verdicts: list[Verdict] = []
    for target in TARGETS:
        raw = figures.get(target.key)
        if raw is None or (target.entities and entities is None):
            verdicts.append(Verdict(target, None, NOT_MEASURED))
            continue
        value = round(raw, target.digits) if target.digits else round(raw)
        note = ""
        if target.entities and entities is not None and entities != ENTITY_SCALE:
            note = f"measured with {entities:,} entities, the target is for {ENTITY_SCALE:,}"
        status = MET if value <= target.limit else NOT_MET
        verdicts.append(Verdict(target, value, status, note))
    return verdicts
