"""The deployment files users copy (infra/): YAML that parses, and the keys a working deployment needs.

No Docker engine or Kubernetes cluster runs here, so these are text checks: every YAML file loads with
``yaml.safe_load_all``; Kubernetes workloads name images, resources and probes, and what they refer to
(ConfigMaps, Secrets, Services, Deployments) exists; compose services have healthchecks and the GPU worker asks
for NVIDIA devices; the Dockerfiles are multi-stage and run as a non-root user; docs/deploy.md documents every
setting backend/settings.py reads.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
K8S = INFRA / "k8s"
YAML_FILES = sorted(p for p in INFRA.rglob("*") if p.suffix in (".yaml", ".yml"))
WORKLOAD_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}


def load_documents(text: str, name: str = "<text>") -> list[dict[str, Any]]:
    """Every non-empty document of a YAML stream; raises on bad syntax or a document that is not a mapping."""
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    for doc in documents:
        if not isinstance(doc, dict):
            raise ValueError(f"{name}: a document is a {type(doc).__name__}, not a mapping")
    return documents


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (p.name, doc) for p in sorted(K8S.glob("*.yaml")) for doc in load_documents(p.read_text(), p.name)
    ]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


# --- YAML syntax ---------------------------------------------------------------------------------------------


def test_there_are_deployment_files_to_check():
    names = {p.relative_to(INFRA).as_posix() for p in YAML_FILES}
    assert "compose.yaml" in names and len([n for n in names if n.startswith("k8s/")]) >= 10


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_yaml_file_parses(path: Path):
    assert load_documents(path.read_text(), path.name), f"{path} holds no document"


@pytest.mark.parametrize(
    "broken",
    [
        "apiVersion: v1\nkind: Service\n  metadata: {name: x}\n",  # bad indentation
        "a: [1, 2\n",  # unclosed flow sequence
        "a: 1\n---\n- just\n- a list\n",  # a document that is not a mapping
        "key: 'unterminated\n",
    ],
)
def test_the_loader_refuses_broken_yaml(broken: str):
    with pytest.raises((yaml.YAMLError, ValueError)):
        load_documents(broken)


# --- Kubernetes ----------------------------------------------------------------------------------------------


def test_every_manifest_has_api_version_kind_name_and_the_namespace():
    for name, doc in k8s_documents():
        if doc.get("kind") == "Kustomization":
            continue
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), name
        assert doc["metadata"].get("name"), name
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "flowyard", f"{name}: {doc['kind']} outside flowyard"


def test_kustomization_lists_every_manifest_but_the_secret_example():
    (kustomization,) = load_documents((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present


def test_workloads_have_images_resources_and_probes():
    workloads = [(n, d) for n, d in k8s_documents() if d["kind"] in WORKLOAD_KINDS]
    assert {d["metadata"]["name"] for _, d in workloads} >= {
        "flowyard-web",
        "flowyard-worker-cpu",
        "flowyard-worker-gpu",
        "flowyard-beat",
        "flowyard-migrate",
    }
    for name, workload in workloads:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in spec["containers"]:
            where = f"{name}/{container['name']}"
            assert re.fullmatch(r"[\w.\-/:]+:[\w.\-]+", container["image"]), f"{where}: image needs a tag"
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[part].keys(), f"{where}: {part} lack cpu/memory"
            if workload["kind"] == "Deployment":
                assert "livenessProbe" in container, f"{where}: no livenessProbe"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where


def test_the_web_tier_is_probed_served_and_exposed():
    web = by_kind("Deployment")["flowyard-web"]
    [container] = pod_spec(web)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health"
    assert "uvicorn" in container["command"]
    service = by_kind("Service")["flowyard-web"]
    assert service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    ingress = by_kind("Ingress")["flowyard-web"]
    assert ingress["spec"]["tls"], "TLS ends at the ingress"
    backends = [p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert set(backends) == {"flowyard-web"}


def test_workers_consume_their_queues_and_the_gpu_worker_lands_on_gpu_nodes():
    deployments = by_kind("Deployment")
    cpu = pod_spec(deployments["flowyard-worker-cpu"])["containers"][0]
    assert cpu["command"][:3] == ["celery", "-A", "backend"] and "flowyard.cpu" in cpu["args"]
    gpu_spec = pod_spec(deployments["flowyard-worker-gpu"])
    gpu = gpu_spec["containers"][0]
    assert "flowyard.gpu" in gpu["args"]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] >= 1
    assert gpu["resources"]["requests"]["nvidia.com/gpu"] == gpu["resources"]["limits"]["nvidia.com/gpu"]
    assert gpu_spec["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in gpu_spec["tolerations"])
    for spec in (pod_spec(deployments["flowyard-worker-cpu"]), gpu_spec):
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        claims = [
            v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v
        ]
        assert "/models" in mounts and claims == ["flowyard-models"], "the shared model cache"
    assert "flowyard-models" in by_kind("PersistentVolumeClaim")


def test_beat_is_a_single_replica_replaced_with_recreate():
    beat = by_kind("Deployment")["flowyard-beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    assert "beat" in pod_spec(beat)["containers"][0]["command"]


def test_migrations_job_migrates_and_never_restarts_in_place():
    job = by_kind("Job")["flowyard-migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert "migrate" in " ".join(pod_spec(job)["containers"][0]["command"])


def test_autoscalers_target_existing_deployments_and_never_the_same_one():
    deployments = by_kind("Deployment")
    scaled = by_kind("ScaledObject")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()} == {
        "flowyard-worker-cpu",
        "flowyard-worker-gpu",
    }
    for name, obj in scaled.items():
        [trigger] = obj["spec"]["triggers"]
        assert trigger["type"] == "redis", name
        queue = "flowyard.gpu" if "gpu" in name else "flowyard.cpu"
        assert trigger["metadata"]["listName"] == queue, name
        assert obj["spec"]["scaleTargetRef"]["name"] in deployments
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind("HorizontalPodAutoscaler").values()}
    assert hpa_targets == {"flowyard-web"}
    assert not hpa_targets & {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()}


def test_disruption_budgets_select_existing_pods_and_not_beat():
    labels = [d["spec"]["template"]["metadata"]["labels"] for d in by_kind("Deployment").values()]
    budgets = by_kind("PodDisruptionBudget")
    assert set(budgets) == {"flowyard-web", "flowyard-worker-cpu", "flowyard-worker-gpu"}
    for name, pdb in budgets.items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= pod.items() for pod in labels), f"{name} selects no pod"


def test_config_and_secret_references_exist():
    config_maps, secrets = set(by_kind("ConfigMap")), set(by_kind("Secret"))
    for name, doc in k8s_documents():
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        for container in pod_spec(doc)["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, name
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, name


# --- compose ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (doc,) = load_documents((INFRA / "compose.yaml").read_text())
    return doc


def test_compose_has_the_whole_stack_with_healthchecks(compose):
    services = compose["services"]
    assert set(services) >= {
        "postgres",
        "redis",
        "minio",
        "migrate",
        "web",
        "worker-cpu",
        "worker-gpu",
        "beat",
    }
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        if name != "migrate":
            assert "test" in service.get("healthcheck", {}), f"{name} has no healthcheck"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on a missing {dependency}"


def test_compose_gpu_worker_reserves_nvidia_devices(compose):
    gpu = compose["services"]["worker-gpu"]
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["build"]["dockerfile"] == "infra/Dockerfile.gpu"
    assert "flowyard.gpu" in gpu["command"]


def test_compose_variables_are_in_the_env_example():
    text = (INFRA / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    example = set(re.findall(r"(?m)^(\w+)=", (INFRA / ".env.example").read_text()))
    assert used <= example, f"missing from infra/.env.example: {sorted(used - example)}"


# --- Dockerfiles ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfiles_are_multi_stage_and_run_as_a_non_root_user(name: str):
    lines = [line.strip() for line in (INFRA / name).read_text().splitlines()]
    stages = [line.split()[-1] for line in lines if line.startswith("FROM ") and " AS " in line]
    assert len(stages) >= 2, "multi-stage"
    for line in lines:
        if line.startswith("COPY --from="):
            assert line.split()[1].split("=")[1] in stages, line
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the last USER must not be root"
    assert lines.index(next(line for line in lines if line.startswith("USER "))) < lines.index(
        next(line for line in lines if line.startswith("CMD "))
    )
    assert any(line.startswith("CMD ") for line in lines)


def test_the_cpu_image_builds_the_editor_and_serves_with_uvicorn():
    text = (INFRA / "Dockerfile").read_text()
    assert re.search(r"(?m)^FROM node:\S+ AS frontend$", text) and "npm run build" in text
    assert "COPY --from=frontend" in text
    assert re.search(r'(?m)^CMD \["uvicorn"', text)


def test_the_gpu_image_is_cuda_with_cuda_torch():
    text = (INFRA / "Dockerfile.gpu").read_text()
    assert "nvidia/cuda:" in text and re.search(r"download\.pytorch\.org/whl/cu\d+", text)
    assert re.search(r'(?m)^CMD \["celery".*"flowyard\.gpu"', text)


# --- docs --------------------------------------------------------------------------------------------------------


def settings_variables() -> set[str]:
    text = (REPO / "backend" / "settings.py").read_text()
    pattern = r"""(?:environ\.get|env_bool|env_list|environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
    return set(re.findall(pattern, text))


def test_deploy_docs_describe_every_setting():
    variables = settings_variables()
    assert {"DATABASE_URL", "FLOWYARD_DISPATCHER", "AWS_S3_ENDPOINT_URL", "SECRET_KEY"} <= variables | {
        "DATABASE_URL"
    }
    docs = (REPO / "docs" / "deploy.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", docs))
    missing = sorted((variables | {"DATABASE_URL"}) - documented)
    assert not missing, f"add these settings to the reference in docs/deploy.md: {missing}"


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_images_install_python_packages_from_the_lockfile(name: str):
    text = (INFRA / name).read_text()
    assert "COPY pyproject.toml uv.lock" in text
    assert "uv export --frozen" in text and "--require-hashes" in text
    # The project itself goes in without resolving anything: its dependencies all came from the lock.
    assert "uv pip install --no-deps ." in text
    assert not re.search(r'pip install "?\.(\[|"|\s*$)', text, re.MULTILINE), (
        "no unlocked install of the project"
    )


def test_lock_versions_reads_the_locked_torch_and_the_cuda_wheels():
    script = INFRA / "lock_versions.py"
    run = functools.partial(subprocess.run, capture_output=True, text=True, check=True)
    lock = (REPO / "uv.lock").read_text()
    torch = run([sys.executable, str(script), "torch"]).stdout.strip()
    assert f'name = "torch"\nversion = "{torch}"' in lock
    skipped = run([sys.executable, str(script), "--cuda-packages"]).stdout.split()
    assert "--no-emit-package=torch" in skipped and "--no-emit-package=torchvision" in skipped
    assert any(flag.startswith("--no-emit-package=nvidia-") for flag in skipped)
