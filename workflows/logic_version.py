"""One patch marker per run for the behaviour changes of nukiflow's workflows.

Every ``workflow.patched(id)`` that returns True in a new run records a ``MarkerRecorded`` event
and, from Temporal's core beside it, an ``UpsertWorkflowSearchAttributes`` of
``TemporalChangeVersion``: two events per patch id per run, and again in every run after a
continue-as-new. An auth entity checked four to six ids per run, a create five. Workflow code
asks :func:`since` instead, which asks first for one id naming the present generation of the
logic (:data:`CURRENT`, ``nukiflow-logic-2026-11``)::

    since(id) == workflow.patched(CURRENT) or workflow.patched(id)

The SDK memoizes each id's answer for the run (the first answer stands, later checks record
nothing), and core tells the workflow which markers a workflow task recorded before it replays
that task. Case by case:

- **A new run.** The first check records CURRENT (one marker, one upsert) and answers True; every
  later check in the run is True from the memo, and ``or`` never asks for the id itself.
- **Replaying a history recorded with CURRENT.** The marker sits where the first check was when
  it was recorded; the code is the same, so the first check comes at the same place, finds it and
  answers True, and so does every later one: the branches taken when it was recorded.
- **Replaying a history from before** (one marker per id, no CURRENT). The first check answers
  False for CURRENT (replaying, no such marker) and sends no command; False is memoized for the
  run. Then ``workflow.patched(id)`` answers exactly as the old code's check did: True (with the
  same marker command) where the history has its marker, False where not.
- **Such a run going on live** (a worker picked it up in the middle) keeps CURRENT False from the
  memo and records each id it checks for the first time live, one marker each, as before; its
  next run records CURRENT. If no check came during the replay, the first live check records
  CURRENT and later checks are True: the old code would have recorded that id at that very place,
  and every later id live as well, all True.

So the first check of a run places the marker: checks are workflow code like any other (the same
inputs reach the same check first), and none may sit in a query or an update validator (read-only;
the SDK refuses ``patched`` there). Where the first check falls differs by workflow (the
handler of an entity's first change, the start of a run that starts with work, a rollout's
first item); wherever it is, replay reaches it at the same place. A run that starts idle checks
nothing until it has something to do, so it records no marker for doing nothing.

**The rule for changes to come.** CURRENT implies exactly the ids in :data:`GENERATIONS` (every id
there was when it was cut), never one added later: a history recorded with CURRENT took the old
branch wherever a later change now differs, and must take it again on replay; ``since(new_id)``
would find CURRENT and take the new branch (nondeterminism). So:

- a new behaviour change checks its own id with plain ``workflow.patched("new-id")``, through
  :func:`patched_after` with the id listed in :data:`AFTER_GENERATION`; ``since`` refuses an
  id no generation implies (a test fails, not a replay in production);
- to fold such ids back into one marker, cut a new generation: a new id (e.g.
  ``nukiflow-logic-2027-05``) first in :data:`GENERATIONS`, implying every id there is then
  (those of this generation, the plain ones since, and the ids of the changes it brings).
  :func:`since` asks the generations newest first, each only for the ids *it* implies, then the id
  itself: ``patched(new) or (id in old's set and patched(old)) or patched(id)``. A history
  recorded with the old generation replays: the new one False, the old one True for exactly what
  it implied when it was recorded, the later ids by their own markers. An old generation's set
  never grows.

An id stays in its generation for as long as code asks ``since`` about it; its old branch goes
when no history that could take it is still open (then ``workflow.deprecate_patch`` as usual).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from nukiflow.contracts.names import LOGIC_GENERATION_PATCH


@dataclass(frozen=True)
class Generation:
    """One generation of the workflows' logic: its patch id and the ids its marker implies."""

    patch_id: str
    implies: frozenset[str]


# Newest first. The ids are those the workflow modules define (``*_PATCH``); their strings are
# recorded in histories and never change.
GENERATIONS: tuple[Generation, ...] = (
    Generation(
        LOGIC_GENERATION_PATCH,
        frozenset(
            {
                # auth_entity, auth_entity_book, auth_completion
                "segment-writes-last-standing-change",
                "entity-ends-when-auth-missing",
                "change-answered-at-its-deadline-in-line",
                "auth-events",
                "watch-why-a-change-waits",
                "auth-write-settled-by-report",
                "entity-status-upserted-once-per-task",
                "auth-write-settled-in-one-activity",
                "base-read-from-lock-listing",
                # auth_first_write
                "first-change-reads-its-base-in-the-fast-attempt",
                # auth_create
                "create-lists-existing-auths-first",
                "create-hands-its-drift-policy-over",
                "create-fails-when-it-failed",
                "create-watch-why-it-waits",
                "create-settled-by-its-listing",
                # lock_actions, action_reports
                "action-outcome-from-record",
                "lock-reports-confirm-actions",
                "lock-status-upserted-once-per-task",
                # rollout, access_grant, grant_book
                "rollout-item-activity-fails-for-a-failed-item",
                "grant-continues-as-new",
                "grant-status-upserted-with-auth-id",
            }
        ),
    ),
)
CURRENT = GENERATIONS[0].patch_id

# The ids of behaviour changes made after the newest generation was cut: each checked on its
# own with plain ``workflow.patched`` (:func:`patched_after`), as a history recorded with the
# newest generation's marker took their old branch. The next generation implies them.
AFTER_GENERATION: frozenset[str] = frozenset(
    {
        # auth_create
        "create-auth-id-shown-with-its-end",
    }
)


def since(patch_id: str) -> bool:
    """Whether this run takes the behaviour change ``patch_id`` (see the module's docstring).

    Raises ValueError for an id no generation implies: check a change made after the newest
    generation with plain ``workflow.patched``.
    """
    if not any(patch_id in g.implies for g in GENERATIONS):
        raise ValueError(
            f"patch {patch_id!r} is implied by no logic generation: check it with "
            "workflow.patched, or cut a new generation that implies it"
        )
    for generation in GENERATIONS:
        if patch_id in generation.implies and workflow.patched(generation.patch_id):
            return True
    return workflow.patched(patch_id)


def patched_after(patch_id: str) -> bool:
    """``workflow.patched(patch_id)`` for a change made after the newest generation (listed in
    :data:`AFTER_GENERATION`); raises ValueError for an id a generation implies (ask
    :func:`since`) or one not listed."""
    if patch_id not in AFTER_GENERATION or any(patch_id in g.implies for g in GENERATIONS):
        raise ValueError(
            f"patch {patch_id!r} is not a change made after the newest generation: list it in "
            "AFTER_GENERATION, or ask since()"
        )
    return workflow.patched(patch_id)
