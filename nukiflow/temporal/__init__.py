"""nukiflow's side of Temporal: connecting, the encrypting data converter, the codec server,
tracing, logging, health probes, worker assembly and Worker Versioning.

Public (documented in the README): :data:`nukiflow.temporal.converter.data_converter`, the
payload keys of :mod:`nukiflow.temporal.codec` (``python -m nukiflow.temporal.codec`` prints a
new one), :func:`~nukiflow.temporal.worker.build_worker` and
:func:`~nukiflow.temporal.worker.run_worker` (also ``nukiflow.build_worker``/``run_worker``),
and the rolling upgrades of :mod:`nukiflow.temporal.versioning`. The other modules are internal
and may change without notice.
"""
