"""Reading dates, durations, weekdays and daily times, and converting local times for Nuki.

One set of rules for every edge: the command line, plan files and the Python API all read
these values here, so a value means the same (or is refused with the same words) wherever it is
given. The forms accepted are described in the README ("Command line", "What nukiflow
accepts").

Public: :class:`~nukiflow.times.zones.TimeZoneError` (also ``nukiflow.TimeZoneError``), raised
for what cannot be read or converted without guessing. Everything else in this package
(:mod:`~nukiflow.times.dates`, :mod:`~nukiflow.times.durations`,
:mod:`~nukiflow.times.weekdays`, :mod:`~nukiflow.times.daily`, :mod:`~nukiflow.times.zones`)
is internal and may change without notice.
"""
