"""Which rollout items start next: deterministic scheduling, plain Python (no Temporal calls).

At most ``max_in_flight`` items overall and ``per_lock`` per lock (a lock's device applies one
operation at a time), items of one auth strictly in plan order and never two at once, and the
locks with the most items left first (the busiest lock bounds the rollout's time; ties keep
plan order).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from nukiflow.contracts.rollout import RolloutItem


class Scheduler:
    def __init__(self, items: list[RolloutItem], pending: Iterable[int], per_lock: int) -> None:
        self._items = items
        self._per_lock = per_lock
        # Pending items per lock, in plan order.
        self._queues: dict[int, deque[int]] = {}
        for index in pending:
            self._queues.setdefault(items[index].smartlock_id, deque()).append(index)
        self._lock_busy: dict[int, int] = {}
        self._auth_busy: set[str] = set()

    def next_items(self, free: int) -> list[int]:
        """Up to ``free`` items to start now, each marked in flight until :meth:`release`."""
        chosen: list[int] = []
        if free <= 0:
            return chosen
        candidates = [
            lock
            for lock, queue in self._queues.items()
            if queue and self._lock_busy.get(lock, 0) < self._per_lock
        ]
        # The locks with the most items left first (stable: ties keep plan order).
        candidates.sort(key=lambda lock: -len(self._queues[lock]))
        for lock in candidates:
            while len(chosen) < free and self._lock_busy.get(lock, 0) < self._per_lock:
                index = self._take(lock)
                if index is None:
                    break
                self._hold(index)
                chosen.append(index)
            if not self._queues[lock]:
                del self._queues[lock]
            if len(chosen) >= free:
                break
        return chosen

    def release(self, index: int) -> None:
        """Item ``index`` is no longer in flight: its lock and auth are free for the next."""
        item = self._items[index]
        self._lock_busy[item.smartlock_id] -= 1
        if item.auth_key is not None:
            self._auth_busy.discard(item.auth_key)

    def clear(self) -> None:
        """Start nothing more (the rollout ended)."""
        self._queues.clear()

    def _take(self, lock: int) -> int | None:
        """The lock's first pending item whose auth has no item in flight."""
        queue = self._queues[lock]
        for position, index in enumerate(queue):
            key = self._items[index].auth_key
            if key is None or key not in self._auth_busy:
                del queue[position]
                return index
        return None

    def _hold(self, index: int) -> None:
        item = self._items[index]
        self._lock_busy[item.smartlock_id] = self._lock_busy.get(item.smartlock_id, 0) + 1
        if item.auth_key is not None:
            self._auth_busy.add(item.auth_key)
