"""The deployment files cannot be started here (no container engine), so they are checked
statically: they parse, and they agree with each other and with the code (image, ports,
environment names, search attributes, shutdown timing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from nukiflow import search_attributes
from nukiflow.settings import Settings
from nukiflow.worker import DEFAULT_GRACEFUL_SHUTDOWN

DEPLOY = Path(__file__).parent.parent / "deploy"
TEMPORAL_ENV = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_PROFILE"}


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def _kind(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _known_env(name: str) -> bool:
    if name in TEMPORAL_ENV:
        return True
    prefix = "NUKIFLOW_"
    return name.startswith(prefix) and name[len(prefix) :].lower() in Settings.model_fields


def test_every_environment_name_is_a_setting() -> None:
    names: set[str] = set()
    compose = _compose()
    names |= set(compose["x-nukiflow-env"])
    for service in compose["services"].values():
        env = service.get("environment", {})
        if service.get("image", "").startswith("nukiflow"):
            names |= {k for k in env if k != "<<"}
    for doc in _manifests():
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                names |= {e["name"] for e in container.get("env", [])}
    unknown = sorted(n for n in names if not _known_env(n))
    assert not unknown, f"not settings of nukiflow or Temporal: {unknown}"


def test_compose_registers_the_search_attributes_the_code_uses() -> None:
    command = " ".join(_compose()["services"]["temporal-admin-tools"]["command"])
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", command))
    expected = {
        key.name: {"INT": "Int", "KEYWORD": "Keyword"}[key.indexed_value_type.name]
        for key in search_attributes.ALL
    }
    assert registered == expected


def test_compose_runs_two_workers_and_points_the_ui_at_the_codec_server() -> None:
    services = _compose()["services"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"] == ["worker"]
    codec_port = services["codec-server"]["environment"]["NUKIFLOW_CODEC_SERVER_PORT"]
    assert services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"].endswith(
        f":{codec_port}"
    )
    ui_origin = "http://localhost:" + services["temporal-ui"]["ports"][0].split(":")[0]
    assert ui_origin in services["codec-server"]["environment"]["NUKIFLOW_CODEC_CORS_ORIGINS"]
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    secrets = set(_compose()["secrets"])
    for name in ("worker", "codec-server"):
        assert set(services[name]["secrets"]) <= secrets


def test_worker_manifest_agrees_with_config_image_and_shutdown() -> None:
    config = _kind("ConfigMap", "nukiflow-config")["data"]
    worker = _kind("Deployment", "nukiflow-worker")
    spec = worker["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == int(config["NUKIFLOW_HEALTH_PORT"])
    assert ports["metrics"] == int(config["NUKIFLOW_METRICS_BIND"].rsplit(":", 1)[1])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"] == _compose()["services"]["codec-server"]["image"]
    assert container["resources"]["requests"]
    assert spec["terminationGracePeriodSeconds"] > DEFAULT_GRACEFUL_SHUTDOWN.total_seconds()
    mount = container["volumeMounts"][0]["mountPath"]
    assert config["NUKIFLOW_NUKI_TOKEN_FILE"].startswith(mount)
    assert config["NUKIFLOW_CODEC_KEY_FILE"].startswith(mount)
    hpa = _kind("HorizontalPodAutoscaler", "nukiflow-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "nukiflow-worker"
    assert hpa["spec"]["minReplicas"] >= 2


def test_secrets_referenced_by_manifests_exist_in_the_example() -> None:
    example = _kind("Secret", "nukiflow-secrets")["stringData"]
    for name in ("nukiflow-worker", "nukiflow-codec-server"):
        spec = _kind("Deployment", name)["spec"]["template"]["spec"]
        for volume in spec["volumes"]:
            for item in volume["secret"]["items"]:
                assert item["key"] in example
    service = _kind("Service", "nukiflow-codec-server")
    codec = _kind("Deployment", "nukiflow-codec-server")
    (container,) = codec["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert service["spec"]["ports"][0]["port"] == int(env["NUKIFLOW_CODEC_SERVER_PORT"])


def test_dockerfile_is_multi_stage_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) >= 2
    final = stages[-1]
    assert re.search(r"^USER (?!root|0\b)\S+", final, re.MULTILINE)
    assert "gcc" not in final and "apt-get" not in final
    assert 'ENTRYPOINT ["nukiflow"]' in final
