"""nukiflow as a Nexus service: callers' workflows in other namespaces (and languages) change
access as one durable step. See the README, "Calling nukiflow from your workflows (Nexus)".

- :mod:`nukiflow.nexus.service`, :mod:`nukiflow.nexus.models`: the service definition and its
  inputs and outputs (all a caller imports; they load no worker code);
- :mod:`nukiflow.nexus.handler`: the handler every nukiflow worker registers;
- :mod:`nukiflow.nexus.workflows`, :mod:`nukiflow.nexus.fleet_workflows` and their
  activities (:mod:`nukiflow.nexus.activities`, :mod:`nukiflow.nexus.fleet_activities`): one
  small workflow per request, handing it to the facade or the fleet;
- :mod:`nukiflow.nexus.codes`: redeeming a code nukiflow generated;
- :mod:`nukiflow.nexus.contract`: the published contract (JSON Schema);
- :mod:`nukiflow.nexus.endpoints`: the callers' namespace and the endpoint;
- :mod:`nukiflow.nexus.caller`: example caller workflows; :mod:`nukiflow.nexus.history_scan`:
  looking for a value in a history.
"""
