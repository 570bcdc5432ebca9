"""The deployment manifests: compose and Kubernetes, held against the schemas and Samsyn.

Kubernetes' own kinds are validated strictly with ``kubernetes-validate`` (the API's
OpenAPI schemas, unknown fields refused). CloudNativePG's ``Cluster`` is a custom resource
that tool has no schema for: it is validated against the operator's own CRD schema, kept in
``cnpg-cluster-schema.json`` (the fields the manifest sets, each with its whole schema),
with unknown fields refused too. Kustomize's file and compose have no schema here: their
structure is checked against what Samsyn and the image expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import kubernetes_validate
import pytest
import yaml

from api.cli import build_parser
from ledger.settings import Settings
from tests.deploy.dockerfile import env, instructions, last

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
IMAGE = instructions(ROOT / "deploy" / "Dockerfile")
IMAGE_ENV = env(IMAGE)
SETTINGS = {f"SAMSYN_{name.upper()}" for name in Settings.model_fields}
ENTRYPOINT_ONLY = {"SAMSYN_SIGNING_KEY_FILE"}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kubernetes_resources() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for resource in documents(path):
                yield path.name, resource


RESOURCES = list(kubernetes_resources())


def resource(kind: str, name: str) -> dict[str, Any]:
    [found] = [r for _, r in RESOURCES if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def container(name: str) -> dict[str, Any]:
    [only] = resource("Deployment", name)["spec"]["template"]["spec"]["containers"]
    return only


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the known ones."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(v) for v in schema]
    return schema


# -- Kubernetes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "manifest"), [
    pytest.param(f, r, id=f"{f}:{r['kind']}/{r['metadata']['name']}")
    for f, r in RESOURCES if not r["apiVersion"].startswith("postgresql.cnpg.io/")])
def test_each_kubernetes_resource_validates_strictly(file: str, manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_postgresql_is_a_cloudnativepg_cluster_with_replicas_that_validates() -> None:
    cluster = resource("Cluster", "samsyn-db")
    kept = json.loads((Path(__file__).parent / "cnpg-cluster-schema.json").read_text())
    jsonschema.validate(cluster, strict(kept["schema"]))
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] >= 2  # a primary and at least one streaming replica
    assert cluster["spec"]["bootstrap"]["initdb"]["database"] == "samsyn"


def test_the_api_reads_from_the_replicas_and_writes_to_the_primary() -> None:
    environment = {e["name"]: e.get("value") for e in container("samsyn-api")["env"]}
    primary = urlparse(environment["SAMSYN_DATABASE_URL"])
    replicas = urlparse(environment["SAMSYN_READ_DATABASE_URL"])
    # CloudNativePG's services: <cluster>-rw is the primary, <cluster>-ro the replicas.
    assert primary.hostname == "samsyn-db-rw" and replicas.hostname == "samsyn-db-ro"
    assert primary.path == replicas.path == "/samsyn"
    secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in container("samsyn-api")["env"]
               if "valueFrom" in e}
    assert secrets == {"samsyn-db-app"}


def test_the_api_is_probed_on_health_and_readiness() -> None:
    api = container("samsyn-api")
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["startupProbe"]["httpGet"]["path"] == "/health"
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    [port] = api["ports"]
    assert str(port["containerPort"]) == IMAGE_ENV["SAMSYN_PORT"]
    service = resource("Service", "samsyn")
    assert service["spec"]["selector"] == resource(
        "Deployment", "samsyn-api")["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize(("name", "command"), [("samsyn-projector", "project"),
                                               ("samsyn-sealer", "seal")])
def test_projector_and_sealer_run_with_a_standby_each(name: str, command: str) -> None:
    deployment = resource("Deployment", name)
    assert deployment["spec"]["replicas"] >= 2  # one leads, the other takes over
    args = container(name)["args"]
    assert args == [command] and build_parser().parse_args(args).command == command
    config = resource("ConfigMap", "samsyn")["data"]
    assert config["SAMSYN_PROJECTIONS_IN_PROCESS"] == config["SAMSYN_SEAL_IN_PROCESS"] == "false"


def test_every_pod_runs_as_the_image_s_user_with_the_signing_key_from_a_secret() -> None:
    uid = int(re.search(r"--uid (\d+)", " ".join(  # type: ignore[union-attr]
        i.text for i in IMAGE if i.name == "RUN")).group(1))
    generated = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    [secret] = generated["secretGenerator"]
    for _, deployment in RESOURCES:
        if deployment["kind"] != "Deployment":
            continue
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        [only] = pod["containers"]
        assert only["image"].startswith("samsyn")
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in only["volumeMounts"]}
        assert volumes["signing-key"]["secret"]["secretName"] == secret["name"]
        key_file = {e["name"]: e.get("value") for e in only["env"]}["SAMSYN_SIGNING_KEY_FILE"]
        assert key_file == f"{mounts['signing-key']}/{secret['files'][0]}"
        assert mounts["data"] == last(IMAGE, "WORKDIR").text  # writable, root fs read-only
        assert only["securityContext"]["readOnlyRootFilesystem"] is True


def test_every_samsyn_variable_in_the_manifests_is_a_setting() -> None:
    config = resource("ConfigMap", "samsyn")["data"]
    names = set(config)
    for _, deployment in RESOURCES:
        if deployment["kind"] == "Deployment":
            names |= {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]
                      ["env"]}
    unknown = {n for n in names if n.startswith("SAMSYN_")} - SETTINGS - ENTRYPOINT_ONLY
    assert not unknown
    assert config["SAMSYN_LOG_ORIGIN"]  # fixed by configuration, never the pod's name
    Settings(**{k.removeprefix("SAMSYN_").lower(): v for k, v in config.items()})


def test_kustomize_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}


# -- compose ----------------------------------------------------------------------------------


COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
SAMSYN_SERVICES = {name: s for name, s in SERVICES.items() if s.get("image") == "samsyn:latest"}


def test_compose_runs_a_primary_a_replica_two_apis_a_projector_and_a_sealer() -> None:
    commands = {name: s["command"][0] for name, s in SAMSYN_SERVICES.items()}
    assert commands == {"api-1": "serve", "api-2": "serve", "projector": "project",
                        "sealer": "seal"}
    for service in SAMSYN_SERVICES.values():
        build_parser().parse_args(service["command"])
        assert (ROOT / "deploy" / service["build"]["context"] / service["build"]["dockerfile"]
                ).resolve() == (ROOT / "deploy" / "Dockerfile")
    primary = " ".join(SERVICES["db-primary"]["command"])
    assert "wal_level=replica" in primary
    replica_start = (ROOT / "deploy" / "postgres" / "replica-start.sh").read_text()
    assert re.search(r"pg_basebackup -h \"\$PRIMARY_HOST\".*\n.*-R -X stream", replica_start)
    assert SERVICES["db-replica"]["environment"]["PRIMARY_HOST"] == "db-primary"


def test_compose_apis_write_to_the_primary_and_read_from_the_replica() -> None:
    for name in ("api-1", "api-2"):
        environment = SAMSYN_SERVICES[name]["environment"]
        assert urlparse(environment["SAMSYN_DATABASE_URL"]).hostname == "db-primary"
        assert urlparse(environment["SAMSYN_READ_DATABASE_URL"]).hostname == "db-replica"
        assert environment["SAMSYN_PROJECTIONS_IN_PROCESS"] == "false"
        assert environment["SAMSYN_SEAL_IN_PROCESS"] == "false"
        unknown = {k for k in environment if k.startswith("SAMSYN_")} - SETTINGS
        assert not unknown


def test_compose_mounts_the_key_where_the_image_looks_and_gives_it_a_writable_directory() -> None:
    data = last(IMAGE, "WORKDIR").text
    for service in SAMSYN_SERVICES.values():
        [secret] = service["secrets"]
        assert secret["target"] == IMAGE_ENV["SAMSYN_SIGNING_KEY_FILE"]
        assert secret["source"] in COMPOSE["secrets"]
        assert any(t.startswith(f"{data}:uid=10001") for t in service["tmpfs"])
        assert service["environment"]["SAMSYN_LOG_ORIGIN"]
