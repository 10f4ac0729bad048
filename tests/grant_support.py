"""Bringing a grant's end near without betting on the machine's speed.

A test that needs a grant's end to pass starts the grant with an end far away, so that its code
is on the lock (and whatever the test checks first has happened) long before it, and then moves
the end a few seconds ahead. Only that move has to reach the grant before the new end: a loaded
machine can still be slower than that, and then the grant refuses the end as passed (a refusal
changes nothing, not even the history), so the move is asked again with a later end. (A grant's
end moves later or earlier: see ``ExtendRequest``.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nukiflow.fleet import FleetRefusedError, GrantHandle

# Far enough for a loaded machine to create a grant's code and check it before the end.
FAR = timedelta(hours=1)


def whole_seconds_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def end_soon(grant: GrantHandle, seconds: float = 3.0) -> datetime:
    """Move the grant's end to about ``seconds`` from now (written onto the lock); the end."""
    for _ in range(8):
        end = whole_seconds_now() + timedelta(seconds=seconds)
        try:
            view = await grant.extend(end)
        except FleetRefusedError as err:
            if "must be in the future" not in str(err) and "has passed" not in str(err):
                raise
            # A slow moment rarely lasts: a little more room, not a test that waits long.
            seconds += 2
            continue
        assert view.window.allowed_until_date == end
        return end
    raise AssertionError("the grant never saw a new end before it passed")
