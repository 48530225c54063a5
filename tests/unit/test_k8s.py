"""The Kubernetes manifests (k8s/): each overlay renders with the pinned kustomize, passes
the Kubernetes JSON schemas offline, and has what the platform needs to run safely.

kustomize comes from ``deploy/k8s-tools.sh`` (built once with Go into the state directory);
these tests skip only when no Go toolchain is found. Core kinds are checked against the
Kubernetes schemas of kubernetes-validate (strict: unknown fields are errors); KEDA's
ScaledObject against the CRD in KEDA's Go module; Strimzi's KafkaTopic has no CRD to be
had offline (see ``test_kafka_topic_crd_schema``) and is checked field by field instead.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import math
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.messaging.topics import ALL_TOPICS

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
TOOLS = REPO / "deploy" / "k8s-tools.sh"
OVERLAYS = ("dev", "national")
#: The oldest Kubernetes the manifests target (preStop ``sleep`` needs 1.29+, on by
#: default from 1.30) and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
#: Kinds checked by kubernetes-validate; custom resources are handled apart.
CORE_KINDS = {
    "ConfigMap",
    "Deployment",
    "HorizontalPodAutoscaler",
    "Namespace",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
}
CUSTOM_KINDS = {"KafkaTopic", "ScaledObject"}
#: Deployment -> the autoscaler it must have (README: HTTP-facing services scale on CPU,
#: Kafka consumers on their group's lag).
HPA_SCALED = {"hocba-ingestion", "hocba-storage"}
LAG_SCALED = {
    "hocba-validation": "hocba-validation",
    "hocba-signing": "hocba-signing",
    "hocba-national-sync": "hocba-national-sync",
}
#: Not autoscaled, on purpose: the simulator keeps the national database in memory, so
#: a second pod would be a second, different database.
NOT_AUTOSCALED = {"hocba-national-sim": "in-memory simulator: exactly one pod (dev only)"}
#: Secret-bearing settings: they must come from Secrets, never from a ConfigMap.
SECRET_SETTINGS = {"HOCBA_PG_DSN", "HOCBA_RECORD_ID_KEY", "HOCBA_NATIONAL_CLIENT_SECRET"}
SERVICE_PORT_SETTING = {
    "ingestion": "HOCBA_INGESTION_PORT",
    "validation": "HOCBA_VALIDATION_PORT",
    "signing": "HOCBA_SIGNING_PORT",
    "storage": "HOCBA_STORAGE_PORT",
    "national_sync": "HOCBA_SYNC_PORT",
    "national_sim": "HOCBA_NATIONAL_SIM_PORT",
}
#: Pods that talk to PostgreSQL (README: vendors, the record store, the sync state).
POSTGRES_CLIENTS = {"hocba-ingestion", "hocba-storage", "hocba-national-sync"}
HTTP_FACING = {"hocba-ingestion", "hocba-storage"}


# --- tools and rendering ---------------------------------------------------------------


def _tool(*args: str) -> str:
    """Run deploy/k8s-tools.sh; skip when Go is missing (exit 3), fail on anything else."""
    proc = subprocess.run(
        ["bash", str(TOOLS), *args], capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode == 3:
        pytest.skip(f"no Go toolchain: {proc.stderr.strip()}")
    if proc.returncode != 0:
        pytest.fail(f"deploy/k8s-tools.sh {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout.strip()


@functools.cache
def _kustomize() -> str:
    return _tool("kustomize")


@functools.cache
def _rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    proc = subprocess.run(
        [_kustomize(), "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"kustomize build {overlay}:\n{proc.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(overlay: str) -> tuple[dict[str, Any], ...]:
    return _rendered(overlay)


def _of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _named(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _of_kind(docs, kind)}


def _config(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    (config,) = [
        d for d in _of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("hocba-config")
    ]
    return dict(config["data"])


def _pod_labels(deployment: Mapping[str, Any]) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions In/NotIn/Exists) against labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


# --- schemas ---------------------------------------------------------------------------


def test_both_overlays_render_every_kind(overlay: str) -> None:
    kinds = {d["kind"] for d in _rendered(overlay)}
    assert kinds == CORE_KINDS | CUSTOM_KINDS, "a kind the schema checks below do not cover"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_kinds_pass_the_kubernetes_schemas(
    docs: tuple[dict[str, Any], ...], version: str
) -> None:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        pytest.fail(
            "kubernetes-validate is missing: it is a dev dependency (pip install -e .[dev])"
        )
    errors = []
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} at {path}: {exc.message}")
    assert not errors, "\n".join(errors)


@functools.cache
def _keda_module() -> Path:
    return Path(_tool("keda-module"))


def _strict(schema: Any) -> Any:
    """An OpenAPI v3 CRD schema as JSON Schema (draft 4), closed like the API server's
    strict field validation: objects without preserve-unknown-fields reject other keys."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _scaled_object_schema() -> dict[str, Any]:
    crd = yaml.safe_load(
        (_keda_module() / "config/crd/bases/keda.sh_scaledobjects.yaml").read_text("utf-8")
    )
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    return schema


@functools.cache
def _kafka_scaler_metadata() -> dict[str, set[str] | None]:
    """The kafka scaler's trigger-metadata names (and enums) as the scaler declares them."""
    source = (_keda_module() / "pkg/scalers/kafka_scaler.go").read_text("utf-8")
    names: dict[str, set[str] | None] = {}
    for tag in re.findall(r'keda:"([^"]+)"', source):
        fields = dict(part.split("=", 1) for part in tag.split(",") if "=" in part)
        if "triggerMetadata" in fields.get("order", ""):
            enum = fields.get("enum")
            names[fields["name"]] = set(enum.split(";")) if enum else None
    return names


def test_scaled_objects_pass_the_keda_crd(docs: tuple[dict[str, Any], ...]) -> None:
    import jsonschema

    validator = jsonschema.Draft4Validator(_scaled_object_schema())
    known = _kafka_scaler_metadata()
    assert {"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} <= known.keys()
    errors = []
    for doc in _of_kind(docs, "ScaledObject"):
        assert doc["apiVersion"] == "keda.sh/v1alpha1"
        for error in validator.iter_errors(doc):
            path = "/".join(str(p) for p in error.path)
            errors.append(f"ScaledObject/{doc['metadata']['name']} at {path}: {error.message}")
        for trigger in doc["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            for key, value in trigger["metadata"].items():
                if key not in known:
                    errors.append(f"{doc['metadata']['name']}: kafka scaler has no {key!r}")
                elif (enum := known[key]) is not None and value not in enum:
                    errors.append(f"{doc['metadata']['name']}: {key}={value!r} not in {enum}")
    assert not errors, "\n".join(errors)


def test_the_crd_check_rejects_a_wrong_field() -> None:
    """The converted KEDA schema is strict: a misspelt field fails, as on a cluster."""
    import jsonschema

    so = copy.deepcopy(_of_kind(_rendered("dev"), "ScaledObject")[0])
    so["spec"]["minReplicas"] = 1  # the field is minReplicaCount
    assert not jsonschema.Draft4Validator(_scaled_object_schema()).is_valid(so)


def test_kafka_topic_crd_schema() -> None:
    pytest.skip(
        "Strimzi's KafkaTopic CRD is not validated: Strimzi publishes its CRDs only as "
        "release files and in its repository; there is no Go module (Strimzi is Java), no "
        "PyPI package, and its Maven api jar carries no CRD YAML, so nothing offline holds "
        "it. test_kafka_topics_match_the_platform checks the documented KafkaTopicSpec "
        "fields (partitions, replicas, config, topicName) instead."
    )


# --- Kafka topics ----------------------------------------------------------------------


def test_kafka_topics_match_the_platform(docs: tuple[dict[str, Any], ...]) -> None:
    topics = _named(docs, "KafkaTopic")
    assert set(topics) == {t.name for t in ALL_TOPICS}, "one KafkaTopic per topics.py topic"
    partitions = set()
    for topic in ALL_TOPICS:
        doc = topics[topic.name]
        spec = doc["spec"]
        assert doc["apiVersion"] == "kafka.strimzi.io/v1"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "hocba"
        assert set(spec) <= {"partitions", "replicas", "config", "topicName"}, topic.name
        assert spec["topicName"] == topic.name
        assert isinstance(spec["partitions"], int) and spec["partitions"] >= 1
        assert isinstance(spec["replicas"], int) and 1 <= spec["replicas"] <= 32767
        partitions.add(spec["partitions"])
        config = {k: str(v) for k, v in spec["config"].items()}
        for key, value in topic.configs().items():
            assert config.get(key) == value, f"{topic.name}: {key} must be {value}"
        if topic.compacted:
            assert config["cleanup.policy"] == "compact"
        else:
            assert config.get("cleanup.policy", "delete") == "delete"
            assert "retention.ms" in config, f"{topic.name}: say how long it is kept"
        min_isr = int(config["min.insync.replicas"])
        # acks=all producers keep writing with one replica down.
        assert min_isr == 1 if spec["replicas"] == 1 else 1 < min_isr < spec["replicas"]
    # A stateful stage's partition p spans partition p of each of its inputs.
    assert len(partitions) == 1, f"every topic needs the same partition count: {partitions}"


# --- Deployments -----------------------------------------------------------------------


def _containers(deployment: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6}


def _quantity(value: str | int) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match, f"not a quantity: {value!r}"
    return float(match.group(1)) * _UNITS[match.group(2)]


def test_every_deployment_runs_a_service_safely(docs: tuple[dict[str, Any], ...]) -> None:
    config = _config(docs)
    for deployment in _of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        # Service links would set HOCBA_<SERVICE>_PORT=tcp://..., clashing with settings.
        assert pod["enableServiceLinks"] is False, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in _containers(deployment):
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            resources = container["resources"]
            for what in ("cpu", "memory"):
                request, limit = resources["requests"][what], resources["limits"][what]
                assert _quantity(request) <= _quantity(limit), f"{where}: {what}"
            image = container["image"]
            assert re.fullmatch(r"[^:@]+:[A-Za-z0-9_][A-Za-z0-9_.-]*", image), where
            assert not image.endswith(":latest"), where
        (main,) = pod["containers"]
        command = main["command"]
        assert command[:2] == ["python", "-m"] and command[2].startswith("services."), name
        package = command[2].removeprefix("services.")
        assert importlib.util.find_spec(f"services.{package}.__main__"), name
        (port,) = main["ports"]
        assert port["name"] == "http"
        assert port["containerPort"] == int(config[SERVICE_PORT_SETTING[package]]), name
        env = {e["name"]: e for e in main.get("env", [])}
        instance = env["HOCBA_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert instance == "metadata.name", name
        sources = [s["configMapRef"]["name"] for s in main["envFrom"] if "configMapRef" in s]
        assert sources and all(s.startswith("hocba-config") for s in sources), name
        assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        mounts = {m["mountPath"] for m in main["volumeMounts"]}
        assert "/tmp" in mounts, f"{name}: a writable /tmp on a read-only root"


def test_secret_settings_come_from_secrets(docs: tuple[dict[str, Any], ...]) -> None:
    assert not SECRET_SETTINGS & _config(docs).keys()
    for deployment in _of_kind(docs, "Deployment"):
        for container in _containers(deployment):
            for env in container.get("env", []):
                if env["name"] in SECRET_SETTINGS:
                    assert "secretKeyRef" in env["valueFrom"], env["name"]
    signing = _named(docs, "Deployment")["hocba-signing"]
    env = {e["name"] for e in signing["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "HOCBA_RECORD_ID_KEY" in env


def test_every_deployment_has_a_service_a_budget_and_autoscaling(
    docs: tuple[dict[str, Any], ...],
) -> None:
    services = _of_kind(docs, "Service")
    budgets = _of_kind(docs, "PodDisruptionBudget")
    hpas = {
        d["spec"]["scaleTargetRef"]["name"]: d for d in _of_kind(docs, "HorizontalPodAutoscaler")
    }
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in _of_kind(docs, "ScaledObject")}
    for deployment in _of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        labels = _pod_labels(deployment)
        assert [s for s in services if _selects({"matchLabels": s["spec"]["selector"]}, labels)]
        (budget,) = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        if name in NOT_AUTOSCALED:
            assert name not in hpas and name not in scaled
            floor = deployment["spec"]["replicas"]
        elif name in HPA_SCALED:
            hpa = hpas[name]
            assert name not in scaled
            (metric,) = hpa["spec"]["metrics"]
            assert metric["resource"]["name"] == "cpu"
            floor = hpa["spec"]["minReplicas"]
            assert floor <= hpa["spec"]["maxReplicas"]
            # The autoscaler owns the count: a replicas field would fight it on apply.
            assert "replicas" not in deployment["spec"], name
        else:
            assert name not in hpas, name
            floor = scaled[name]["spec"]["minReplicaCount"]
            assert floor <= scaled[name]["spec"]["maxReplicaCount"]
            assert "replicas" not in deployment["spec"], name
        # A budget that allows no eviction at the floor would block every node drain.
        spec = budget["spec"]
        if "maxUnavailable" in spec:
            assert _disruptions(spec["maxUnavailable"], floor, up=False) >= 1, name
        else:
            assert floor - _disruptions(spec["minAvailable"], floor, up=True) >= 1, name


def _disruptions(value: int | str, pods: int, *, up: bool) -> int:
    if isinstance(value, int):
        return value
    share = pods * int(value.rstrip("%")) / 100
    return math.ceil(share) if up else math.floor(share)


def test_lag_autoscaling_follows_the_consumer_groups(docs: tuple[dict[str, Any], ...]) -> None:
    config = _config(docs)
    topic_names = {t.name for t in ALL_TOPICS}
    (partitions,) = {d["spec"]["partitions"] for d in _of_kind(docs, "KafkaTopic")}
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in _of_kind(docs, "ScaledObject")}
    assert set(scaled) == set(LAG_SCALED)
    for deployment, group in LAG_SCALED.items():
        spec = scaled[deployment]["spec"]
        # Pods beyond the partition count would get no partition.
        assert spec["maxReplicaCount"] <= partitions, deployment
        for trigger in spec["triggers"]:
            metadata = trigger["metadata"]
            assert metadata["consumerGroup"] == group
            assert metadata["topic"] in topic_names
            assert metadata["bootstrapServers"] == config["HOCBA_KAFKA_BOOTSTRAP"]
            assert int(metadata["lagThreshold"]) > 0
            # The services start a new group at the earliest offset too.
            assert metadata["offsetResetPolicy"] == "earliest"


# --- network policies ------------------------------------------------------------------


def _policies_for(docs: tuple[dict[str, Any], ...], labels: Mapping[str, str]) -> list[Any]:
    return [
        p for p in _of_kind(docs, "NetworkPolicy") if _selects(p["spec"]["podSelector"], labels)
    ]


def _egress_ports(policies: list[Any]) -> set[int | str]:
    return {
        port["port"]
        for policy in policies
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }


def _ingress_peers(policies: list[Any]) -> list[dict[str, Any]]:
    return [
        peer
        for policy in policies
        for rule in policy["spec"].get("ingress", [])
        for peer in rule.get("from", [])
    ]


def test_network_policies_allow_only_what_each_service_needs(
    docs: tuple[dict[str, Any], ...],
) -> None:
    for deployment in _of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        policies = _policies_for(docs, _pod_labels(deployment))
        deny = [p for p in policies if p["metadata"]["name"] == "hocba-default-deny"]
        assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, name
        assert not deny[0]["spec"].get("ingress") and not deny[0]["spec"].get("egress")
        ports = _egress_ports(policies)
        assert 53 in ports, f"{name}: DNS"
        assert (9092 in ports) == (name != "hocba-national-sim"), f"{name}: Kafka"
        assert (5432 in ports) == (name in POSTGRES_CLIENTS), f"{name}: PostgreSQL"
        peers = _ingress_peers(policies)
        namespaces = {
            p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            for p in peers
        }
        assert "monitoring" in namespaces, f"{name}: Prometheus scrapes it"
        assert ("ingress-nginx" in namespaces) == (name in HTTP_FACING), f"{name}: ingress"
        for policy in policies:
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{policy['metadata']['name']}: ingress from anywhere"
    by_name = _named(docs, "Deployment")
    sync = _egress_ports(_policies_for(docs, _pod_labels(by_name["hocba-national-sync"])))
    assert 443 in sync, "national-sync reaches the national API"
    if "hocba-national-sim" in by_name:
        assert 8090 in sync, "national-sync reaches the simulator (dev)"


# --- secrets ---------------------------------------------------------------------------


def _repo_yaml() -> Iterator[tuple[Path, Any]]:
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text("utf-8")):
            if doc:
                yield path, doc


def test_no_secret_values_in_the_repository() -> None:
    found = list(_repo_yaml())
    assert found, "k8s/ has no YAML"
    for path, doc in found:
        where = path.relative_to(REPO)
        if doc.get("kind") == "Secret":
            assert not doc.get("data") and not doc.get("stringData"), f"{where}: Secret data"
        assert "secretGenerator" not in doc, f"{where}: secrets are created in the cluster"
    dsn_with_password = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
    for path in sorted(K8S.rglob("*")):
        if path.is_file():
            assert not dsn_with_password.search(path.read_text("utf-8")), path


def test_rendered_overlays_reference_secrets_but_carry_none(
    docs: tuple[dict[str, Any], ...],
) -> None:
    assert not _of_kind(docs, "Secret")
    documented = (K8S / "README.md").read_text("utf-8")
    for name in _referenced_secrets(docs):
        assert f"`{name}`" in documented, f"k8s/README.md must say how to create {name}"


def _referenced_secrets(docs: tuple[dict[str, Any], ...]) -> set[str]:
    names = set()
    for deployment in _of_kind(docs, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        names |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        for container in _containers(deployment):
            names |= {
                s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s
            }
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
    return names


# --- the overlays' own promises --------------------------------------------------------


def test_dev_runs_one_pod_each_and_the_simulator() -> None:
    docs = _rendered("dev")
    deployments = _named(docs, "Deployment")
    assert "hocba-national-sim" in deployments
    assert _config(docs)["HOCBA_NATIONAL_URL"] == "http://hocba-national-sim:8090"
    assert {d["spec"]["minReplicas"] for d in _of_kind(docs, "HorizontalPodAutoscaler")} == {1}
    assert {d["spec"]["minReplicaCount"] for d in _of_kind(docs, "ScaledObject")} == {1}
    assert {d["spec"]["replicas"] for d in _of_kind(docs, "KafkaTopic")} == {1}


def test_national_scale_and_hsm() -> None:
    docs = _rendered("national")
    deployments = _named(docs, "Deployment")
    assert "hocba-national-sim" not in deployments
    assert {d["spec"]["replicas"] for d in _of_kind(docs, "KafkaTopic")} == {3}
    (partitions,) = {d["spec"]["partitions"] for d in _of_kind(docs, "KafkaTopic")}
    assert partitions >= 48
    assert all("minAvailable" in b["spec"] for b in _of_kind(docs, "PodDisruptionBudget"))
    assert all(d["spec"]["minReplicas"] >= 3 for d in _of_kind(docs, "HorizontalPodAutoscaler"))
    assert all(d["spec"]["minReplicaCount"] >= 2 for d in _of_kind(docs, "ScaledObject"))
    signing = deployments["hocba-signing"]["spec"]["template"]["spec"]
    assert [c["name"] for c in signing["initContainers"]] == ["hsm-client"]
    secrets = {v["secret"]["secretName"] for v in signing["volumes"] if "secret" in v}
    assert secrets == {"hocba-signers", "hocba-hsm-client"}
    hsm = _egress_ports(_policies_for(docs, _pod_labels(deployments["hocba-signing"])))
    assert 1792 in hsm
