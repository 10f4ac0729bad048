"""nukiflow as a Nexus service: callers' workflows in other namespaces (and languages) change
access as one durable step. See the README, "Calling nukiflow from your workflows (Nexus)".

- :mod:`nukiflow.nexus.service`: the service definition (what a caller imports);
- :mod:`nukiflow.nexus.models`: the operations' inputs and outputs;
- :mod:`nukiflow.nexus.handler`: the handler every nukiflow worker registers;
- :mod:`nukiflow.nexus.workflows`, :mod:`nukiflow.nexus.activities`: what backs each request;
- :mod:`nukiflow.nexus.codes`: redeeming a generated code;
- :mod:`nukiflow.nexus.contract`: the published contract (JSON Schema);
- :mod:`nukiflow.nexus.endpoints`: the caller namespace and the endpoint.
"""
