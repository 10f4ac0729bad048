"""nukiflow's workflows and the workflow-side code they share.

Temporal's sandbox executes a workflow's own module afresh for every new run (an entity, a
create, a rollout); whatever that module imports outside
``workflow.unsafe.imports_passed_through()`` is executed afresh too. The helpers here and the
contracts are deterministic and keep no state between runs, so the workflow modules import
them passed through, and in the form ``import nukiflow.workflows.x as y``: the form
``from nukiflow.workflows import x`` resolves ``x`` as an attribute of the sandbox's own fresh
package and Python then imports it without the sandbox's passthrough check, executing the whole
helper again in each run (measured: an entity's run start took 6.6 ms that way, 3.6 ms this
way). ``tests/test_sandbox_imports.py`` holds every workflow to it.
"""
