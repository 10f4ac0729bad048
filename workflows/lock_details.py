"""What the Temporal UI shows of a lock's workflow (deterministic, no I/O): its current
details, Markdown made from the same view the ``state`` query returns.
"""

from __future__ import annotations

from nukiflow.contracts.action import LockActionsView, QueuedAction, QueuedActionView
from nukiflow.contracts.wire import SmartlockType
from nukiflow.workflows.markdown import md

# Waiting actions listed by name; the rest are counted.
WAITING_SHOWN = 10

# The device types of Nuki's API (``Smartlock.type``) in the words of its products.
LOCK_TYPES = {
    SmartlockType.SMART_LOCK: "Smart Lock",
    SmartlockType.BOX: "Box",
    SmartlockType.OPENER: "Opener",
    SmartlockType.SMART_DOOR: "Smart Door",
    SmartlockType.SMART_LOCK_3: "Smart Lock 3.0/4",
}


def lock_type_name(lock_type: int | None) -> str:
    if lock_type is None:
        return "type not read yet"
    try:
        return LOCK_TYPES[SmartlockType(lock_type)]
    except ValueError:
        return f"device type {lock_type}"


def lock_title(view: LockActionsView) -> str:
    """The lock in words: its name and type once an action read the lock, e.g. ``**Front
    door** (Smart Lock 3.0/4) · smartlock `17`; its id alone before."""
    kind = "Opener" if view.lock_type == SmartlockType.OPENER else "Smartlock"
    if view.lock_name is None:
        return f"**{kind}** `{view.smartlock_id}`"
    return (
        f"**{md(view.lock_name)}** ({lock_type_name(view.lock_type)}) · "
        f"{kind.lower()} `{view.smartlock_id}`"
    )


def queued_view(queued: QueuedAction) -> QueuedActionView:
    """An action in line (or under way) as the ``state`` query shows it."""
    return QueuedActionView(
        number=queued.number,
        request_id=queued.request.request_id,
        action=queued.request.action,
        accepted_at=queued.accepted_at,
        deadline=queued.deadline,
    )


def details_text(view: LockActionsView) -> str:
    lines = [
        f"{lock_title(view)} · **status:** {view.status.value} · actions: {view.action_counter}",
    ]
    if view.last_state is not None:
        lines.append(f"**Last seen state:** {view.last_state_name}")
    current = view.current
    if current is not None:
        lines.append(
            f"**Now:** #{current.number} {current.action.value} "
            f"({current.step or 'starting'}), send before {current.deadline:%H:%M:%S} UTC"
        )
    queue = view.queue
    if queue:
        waiting = ", ".join(f"#{q.number} {q.action.value}" for q in queue[:WAITING_SHOWN])
        more = f" and {len(queue) - WAITING_SHOWN} more" if len(queue) > WAITING_SHOWN else ""
        lines.append(f"**Waiting:** {waiting}{more}")
    if view.last_outcomes:
        last = view.last_outcomes[-1]
        action = "-" if last.action is None else last.action.value
        line = f"**Last outcome:** #{last.number} {action} {last.status.value}"
        if last.seconds is not None:
            line += f" in {last.seconds:.2f} s"
        lines.append(line + f" ({last.api_requests} API requests)")
        if last.reason:
            lines.append(f"> {last.reason}")
    if view.learned_seconds:
        times = ", ".join(f"{k} {v:.2f} s" for k, v in view.learned_seconds.items())
        lines.append(f"**Action times learned:** {times}")
    return "\n\n".join(lines)
