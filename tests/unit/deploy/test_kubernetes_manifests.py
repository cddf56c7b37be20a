"""deploy/kubernetes/, checked offline: every resource a kustomization lists is valid against the
Kubernetes schemas that ship in kubernetes-validate (strict: no unknown field), and the manifests
hold the production shape (replicas, probes, read-only roots, Secrets by reference) with variable
names and entry points the images and settings really have."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy.read_settings import agent_variables, control_plane_variables
from tests.unit.deploy.test_docker_packaging import CONSOLE_SCRIPTS, final_stage

KUBERNETES = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
KUSTOMIZATIONS = ["control-plane", "agent"]
KUBERNETES_VERSION = "1.30.0"  # the oldest minor still supported by the big managed services


def kustomization(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((KUBERNETES / name / "kustomization.yaml").read_text())
    return loaded


def resources(name: str) -> Iterator[dict[str, Any]]:
    for listed in kustomization(name)["resources"]:
        yield from (
            document for document in yaml.safe_load_all((KUBERNETES / name / listed).read_text()) if document
        )


def by_kind(name: str, kind: str) -> list[dict[str, Any]]:
    return [resource for resource in resources(name) if resource["kind"] == kind]


def deployment(name: str, deployment_name: str) -> dict[str, Any]:
    (found,) = [d for d in by_kind(name, "Deployment") if d["metadata"]["name"] == deployment_name]
    return found


def containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = resource["spec"]["template"]["spec"]["containers"]
    return found


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_file_is_listed_and_every_resource_is_valid_kubernetes(name: str) -> None:
    listed = set(kustomization(name)["resources"])
    on_disk = {path.name for path in (KUBERNETES / name).glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk

    for resource in resources(name):
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_a_wrong_field_fails_the_validation() -> None:
    broken = deployment("control-plane", "optischema-control-plane")
    broken["spec"]["replicas"] = "three"

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_control_plane_is_several_replicas_behind_probes_an_autoscaler_and_a_budget() -> None:
    control_plane = deployment("control-plane", "optischema-control-plane")
    (server,) = containers(control_plane)
    (autoscaler,) = by_kind("control-plane", "HorizontalPodAutoscaler")
    (budget,) = by_kind("control-plane", "PodDisruptionBudget")

    assert control_plane["spec"]["replicas"] >= 2
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "optischema-control-plane"
    assert autoscaler["spec"]["minReplicas"] >= 2
    assert budget["spec"]["minAvailable"] < control_plane["spec"]["replicas"]
    assert by_kind("control-plane", "Ingress") and by_kind("control-plane", "Service")
    assert {"optischema-control-plane", "optischema-redis"} <= {
        d["metadata"]["name"] for d in by_kind("control-plane", "Deployment")
    }
    assert {p["metadata"]["name"] for p in by_kind("control-plane", "NetworkPolicy")} >= {
        "default-deny",
        "optischema-control-plane",
        "optischema-redis",
    }


def test_migrations_run_as_their_own_job_with_the_admin_command() -> None:
    (job,) = by_kind("control-plane", "Job")
    (migrate,) = containers(job)

    assert migrate["command"] == ["optischema-admin"] and migrate["args"] == ["migrate"]
    assert migrate["command"][0] in CONSOLE_SCRIPTS


def test_the_agent_is_one_replica_with_its_spool_on_a_claim_and_a_read_only_root() -> None:
    agent = deployment("agent", "optischema-agent")
    (container,) = containers(agent)
    (claim,) = by_kind("agent", "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in agent["spec"]["template"]["spec"]["volumes"]}
    spool_image_dir = json.loads(dict(final_stage("agent.Dockerfile"))["VOLUME"])[0]

    assert agent["spec"]["replicas"] == 1 and agent["spec"]["strategy"]["type"] == "Recreate"
    assert container["args"] == json.loads(dict(final_stage("agent.Dockerfile"))["CMD"])
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == spool_image_dir
    assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert not by_kind("agent", "Service")  # the agent listens on no port


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_pod_is_non_root_with_a_read_only_root_and_secrets_by_reference(name: str) -> None:
    for workload in [*by_kind(name, "Deployment"), *by_kind(name, "Job")]:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            for variable in container.get("env", []):
                if any(word in variable["name"] for word in ("URL", "TOKEN", "SECRET", "KEY")):
                    assert "value" not in variable or variable["value"].startswith("https://"), variable
    assert not by_kind(name, "Secret")  # created by the operator, never committed


@pytest.mark.parametrize(
    ("name", "read"), [("control-plane", control_plane_variables), ("agent", agent_variables)]
)
def test_every_variable_set_is_one_the_deployable_reads(name: str, read: Any) -> None:
    names: set[str] = set()
    for config_map in by_kind(name, "ConfigMap"):
        names |= set(config_map["data"])
    for workload in [*by_kind(name, "Deployment"), *by_kind(name, "Job")]:
        for container in containers(workload):
            names |= {variable["name"] for variable in container.get("env", [])}
    optischema = {variable for variable in names if variable.startswith("OPTISCHEMA_")}

    assert optischema and optischema <= read(), optischema - read()
