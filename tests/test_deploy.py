"""The deployment files cannot be started here (no container engine), so they are checked
statically: they parse, and they agree with each other and with the code (image, ports,
environment names, search attributes, shutdown timing)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from temporalio.envconfig import ClientConfig
from temporalio.service import TLSConfig

from nukiflow.contracts import search_attributes
from nukiflow.settings import Settings
from nukiflow.temporal.worker import DEFAULT_GRACEFUL_SHUTDOWN

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
TEMPORAL_ENV = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_PROFILE"}
# Only where the files live differs between compose and Kubernetes; these settings name files.
FILE_SETTINGS = {"NUKIFLOW_NUKI_TOKEN_FILE"}
# The payload keys: a file in compose (a secret mounted with the host file's mode, which the
# operator makes 0600), a variable from the Secret in Kubernetes (whose volume files are
# group-readable, which nukiflow refuses for a key file).
KEY_FILE, KEYS = "NUKIFLOW_CODEC_KEY_FILE", "NUKIFLOW_CODEC_KEYS"
# Where the worker's probes bind: loopback in compose (its healthcheck runs inside the
# container), every address in Kubernetes (the kubelet probes the pod's address).
HEALTH_HOST = "NUKIFLOW_HEALTH_HOST"


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


def _container(deployment: str) -> dict[str, Any]:
    (container,) = _kind("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return container


def _registered(text: str) -> dict[str, str]:
    """``--name X --type T`` pairs of a ``temporal operator search-attribute create``."""
    return dict(re.findall(r"--name (\w+) --type (\w+)", text))


def _expected_attributes() -> dict[str, str]:
    kinds = {"INT": "Int", "KEYWORD": "Keyword"}
    return {key.name: kinds[key.indexed_value_type.name] for key in search_attributes.ALL}


def _port(bind: str) -> int:
    return int(bind.rsplit(":", 1)[1])


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
    assert _registered(command) == _expected_attributes()
    # A failed registration must keep the workers down, not pass for a success.
    assert "|| true" not in command


def test_readme_registers_the_search_attributes_the_code_uses() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        block.replace("\\\n", " ")
        for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
        if "search-attribute create" in block
    ]
    assert commands, "the README shows no search-attribute registration"
    for command in commands:
        assert _registered(" ".join(command.split())) == _expected_attributes()


def test_compose_starts_services_only_once_what_they_need_is_ready() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        # The list form means "started", which says nothing about being ready.
        assert isinstance(depends_on, dict), f"{name}: depends_on needs explicit conditions"
        for target, spec in depends_on.items():
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} must run once"
            else:
                assert condition == "service_started", condition
    worker = services["worker"]["depends_on"]
    assert worker["temporal-admin-tools"]["condition"] == "service_completed_successfully"
    assert worker["temporal"]["condition"] == "service_healthy"
    assert services["temporal-admin-tools"]["depends_on"]["temporal"]["condition"] == (
        "service_healthy"
    )
    address = _compose()["x-nukiflow-env"]["TEMPORAL_ADDRESS"]
    for name in ("temporal-admin-tools", "temporal-ui"):
        assert services[name]["environment"]["TEMPORAL_ADDRESS"] == address
    assert address in " ".join(services["temporal"]["healthcheck"]["test"])


def test_compose_runs_two_workers_and_points_the_ui_at_the_codec_server() -> None:
    services = _compose()["services"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"] == ["worker"]
    codec_port = services["codec-server"]["environment"]["NUKIFLOW_CODEC_SERVER_PORT"]
    assert services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"].endswith(
        f":{codec_port}"
    )
    ui_origin = "http://localhost:" + services["temporal-ui"]["ports"][0].split(":")[-2]
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
    assert KEY_FILE not in config
    hpa = _kind("HorizontalPodAutoscaler", "nukiflow-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "nukiflow-worker"
    assert hpa["spec"]["minReplicas"] >= 2


def test_secrets_referenced_by_manifests_exist_in_the_example() -> None:
    example_text = (DEPLOY / "k8s" / "secret.example.yaml").read_text(encoding="utf-8")
    for name in ("nukiflow-worker", "nukiflow-codec-server"):
        spec = _kind("Deployment", name)["spec"]["template"]["spec"]
        for volume in spec["volumes"]:
            secret = volume["secret"]
            example = _kind("Secret", secret["secretName"])["stringData"]
            for item in secret.get("items", []):
                assert item["key"] in example
        # Optional keys are left out of the example's data (an empty value is not "absent"),
        # but it tells how to add them.
        for env in _container(name).get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                stored = _kind("Secret", ref["name"])["stringData"]
                assert ref.get("optional") or ref["key"] in stored
                assert ref["key"] in example_text
    service = _kind("Service", "nukiflow-codec-server")
    codec = _kind("Deployment", "nukiflow-codec-server")
    (container,) = codec["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert service["spec"]["ports"][0]["port"] == int(env["NUKIFLOW_CODEC_SERVER_PORT"])


def test_dockerfile_is_multi_stage_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) >= 2
    final = stages[-1]
    assert re.search(r"^USER (?!root|0\b)\S+", final, re.MULTILINE)
    assert "gcc" not in final and "apt-get" not in final
    assert 'ENTRYPOINT ["nukiflow"]' in final


def test_compose_and_kubernetes_run_the_same_worker() -> None:
    compose = _compose()
    services = compose["services"]
    config = _kind("ConfigMap", "nukiflow-config")["data"]
    worker = _kind("Deployment", "nukiflow-worker")
    container = _container("nukiflow-worker")
    compose_env = {**compose["x-nukiflow-env"], **services["worker"]["environment"]}
    compose_env.pop("<<", None)
    k8s_env = {e["name"]: e for e in container["env"]}
    # The same settings on both, with the same values except where files, keys, probes and
    # Temporal live.
    assert set(compose_env) - {KEY_FILE} == set(config)
    assert KEY_FILE in compose_env and KEYS in k8s_env
    assert k8s_env[KEYS]["valueFrom"]["secretKeyRef"] == {
        "name": "nukiflow-secrets",
        "key": PurePosixPath(compose_env[KEY_FILE]).name,
    }
    assert compose_env[HEALTH_HOST] == "127.0.0.1" and config[HEALTH_HOST] == "0.0.0.0"
    for name in set(config) - FILE_SETTINGS - {"TEMPORAL_ADDRESS", HEALTH_HOST}:
        assert str(compose_env[name]) == str(config[name]), name
    compose_secrets = set(compose["secrets"])
    k8s_items = {
        item["path"]
        for v in worker["spec"]["template"]["spec"]["volumes"]
        for item in v["secret"].get("items", [])
    }
    for name in FILE_SETTINGS:
        compose_file = PurePosixPath(compose_env[name])
        k8s_file = PurePosixPath(config[name])
        assert compose_file.name == k8s_file.name, name
        assert compose_file.name in compose_secrets and str(compose_file.parent) == "/run/secrets"
        assert k8s_file.name in k8s_items
    # Health and metrics ports: settings, probes, container ports and scrape annotation.
    health = int(config["NUKIFLOW_HEALTH_PORT"])
    metrics = _port(config["NUKIFLOW_METRICS_BIND"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": health, "metrics": metrics}
    assert int(worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]) == (
        metrics
    )
    probe = " ".join(services["worker"]["healthcheck"]["test"])
    assert f"127.0.0.1:{health}/readyz" in probe
    # One image for both programs, in both.
    images = {services["worker"]["image"], services["codec-server"]["image"]}
    images |= {container["image"], _container("nukiflow-codec-server")["image"]}
    assert len(images) == 1
    codec_compose = services["codec-server"]["environment"]
    codec_k8s = {e["name"]: e for e in _container("nukiflow-codec-server")["env"]}
    assert (
        codec_compose["NUKIFLOW_CODEC_SERVER_PORT"]
        == codec_k8s["NUKIFLOW_CODEC_SERVER_PORT"]["value"]
    )
    assert codec_k8s[KEYS]["valueFrom"]["secretKeyRef"] == {
        "name": "nukiflow-secrets",
        "key": PurePosixPath(codec_compose[KEY_FILE]).name,
    }


def test_kubernetes_worker_gets_temporal_credentials_when_the_secrets_have_them(
    tmp_path: Path,
) -> None:
    container = _container("nukiflow-worker")
    spec = _kind("Deployment", "nukiflow-worker")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in container["env"]}
    api_key = env["TEMPORAL_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert api_key["name"] == "nukiflow-secrets" and api_key["optional"] is True

    (tls_volume,) = [v for v in spec["volumes"] if v["name"] == "temporal-tls"]
    assert tls_volume["secret"]["optional"] is True
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "temporal-tls"]
    tls_secret = _kind("Secret", tls_volume["secret"]["secretName"])
    # Commented in the ConfigMap (a named file that is missing stops the worker); once
    # uncommented they must point at the certificate and key of the mounted Secret.
    config_text = (DEPLOY / "k8s" / "configmap.yaml").read_text(encoding="utf-8")
    paths = dict(re.findall(r"^\s*#\s*(TEMPORAL_TLS_\w+_PATH):\s*(\S+)$", config_text, re.M))
    cert, key = paths["TEMPORAL_TLS_CLIENT_CERT_PATH"], paths["TEMPORAL_TLS_CLIENT_KEY_PATH"]
    for path in paths.values():
        assert PurePosixPath(path).parent == PurePosixPath(mount["mountPath"])
    assert {PurePosixPath(cert).name, PurePosixPath(key).name} <= set(tls_secret["stringData"])

    # And these are the names Temporal's client configuration reads.
    files = {name: tmp_path / PurePosixPath(path).name for name, path in paths.items()}
    for name, file in files.items():
        file.write_bytes(name.encode())
    connect = ClientConfig.load_client_connect_config(
        disable_file=True,
        override_env_vars={
            "TEMPORAL_API_KEY": "key",
            **{name: str(file) for name, file in files.items()},
        },
    )
    assert connect.get("api_key") == "key"
    tls = connect.get("tls")
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == b"TEMPORAL_TLS_CLIENT_CERT_PATH"
    assert tls.client_private_key == b"TEMPORAL_TLS_CLIENT_KEY_PATH"
    assert tls.server_root_ca_cert == b"TEMPORAL_TLS_SERVER_CA_CERT_PATH"


def test_workers_are_versioned_with_the_image_tag_as_build_id() -> None:
    compose = _compose()
    config = _kind("ConfigMap", "nukiflow-config")["data"]
    assert compose["x-nukiflow-env"]["NUKIFLOW_WORKER_VERSIONING"] == "true"
    assert config["NUKIFLOW_WORKER_VERSIONING"] == "true"
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    default_build = re.search(r"^ARG BUILD_ID=(\S+)$", dockerfile, re.MULTILINE)
    assert default_build is not None
    assert "NUKIFLOW_BUILD_ID=${BUILD_ID}" in dockerfile
    # Every nukiflow image is tagged with that build id, never `latest`.
    images = {
        service["image"]
        for service in compose["services"].values()
        if service.get("image", "").startswith("nukiflow")
    }
    images |= {_container("nukiflow-worker")["image"], _container("nukiflow-codec-server")["image"]}
    assert images == {f"nukiflow:{default_build.group(1)}"}
    # The build id must be one Settings accepts.
    assert Settings(build_id=default_build.group(1)).build_id == default_build.group(1)


def _host_of(port: str) -> str:
    """The host address of a compose port ``HOST:PUBLISHED:CONTAINER`` ("" when left out)."""
    parts = port.split(":")
    return parts[0] if len(parts) == 3 else ""


def test_compose_publishes_every_port_on_loopback_only() -> None:
    """Temporal and its UI have no authentication in compose: anyone who reaches them can
    terminate a grant's workflow (its code stays on the lock). Nothing is published beyond
    this host's loopback."""
    published = []
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: write ports as HOST:PUBLISHED:CONTAINER"
            assert _host_of(port) == "127.0.0.1", f"{name} publishes {port} beyond loopback"
            published.append(name)
    assert {"temporal", "temporal-ui", "codec-server"} <= set(published)


def test_probes_default_to_loopback_and_containers_bind_them_explicitly() -> None:
    # Outside a container the worker's probes stay on this machine unless told otherwise.
    assert Settings.model_fields["health_host"].default == "127.0.0.1"
    assert Settings.model_fields["codec_server_host"].default == "127.0.0.1"
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    final = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]
    assert "NUKIFLOW_HEALTH_HOST=0.0.0.0" in final
    config = _kind("ConfigMap", "nukiflow-config")["data"]
    assert config[HEALTH_HOST] == "0.0.0.0"
    codec = {e["name"]: e.get("value") for e in _container("nukiflow-codec-server")["env"]}
    assert codec["NUKIFLOW_CODEC_SERVER_HOST"] == "0.0.0.0"
    # The real Nuki API over https, in both.
    assert _compose()["x-nukiflow-env"]["NUKIFLOW_NUKI_URL"].startswith("https://")
    assert config["NUKIFLOW_NUKI_URL"].startswith("https://")


def test_no_deploy_file_mounts_the_payload_keys_as_a_shared_file() -> None:
    """A Secret volume's files are group-readable (fsGroup) and nukiflow refuses such a key
    file; the keys reach the pods as a variable from the Secret."""
    for name in ("nukiflow-worker", "nukiflow-codec-server"):
        spec = _kind("Deployment", name)["spec"]["template"]["spec"]
        items = [i["key"] for v in spec["volumes"] for i in v["secret"].get("items", [])]
        assert "codec-keys" not in items, name
        env = {e["name"] for e in _container(name).get("env", [])}
        assert KEYS in env and KEY_FILE not in env, name
