"""docker-compose.yaml: the standard Airflow 3.3 Celery stack plus k3s and MinIO, wired to podium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.services import service_unavailable

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yaml"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _env(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


def _substitute_defaults(value: str) -> str:
    """Resolve ${VAR:-default} the way compose does when VAR is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_the_whole_stack_is_there(compose: dict) -> None:
    assert set(compose["services"]) >= {
        "postgres",
        "redis",
        "airflow-init",
        *AIRFLOW_SERVICES,
        "k3s",
        "k3s-kubeconfig",
        "minio",
        "minio-init",
    }


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES))
def test_airflow_services_share_image_config_and_mounts(compose: dict, name: str) -> None:
    service = compose["services"][name]
    assert service["image"] == "${AIRFLOW_IMAGE_NAME:-apache/airflow:3.3.2}"
    assert service["command"] == AIRFLOW_SERVICES[name]
    assert "healthcheck" in service
    env = _env(service)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["_PIP_ADDITIONAL_REQUIREMENTS"] == (
        "-r /opt/airflow/requirements.txt -c /opt/airflow/requirements.lock"
    )
    mounts = {m.split(":")[0]: m.split(":")[1] for m in service["volumes"]}
    for folder in ("dags", "plugins", "include"):
        assert mounts[f"./{folder}"] == f"/opt/airflow/{folder}"
    assert mounts["./requirements.txt"] == "/opt/airflow/requirements.txt"
    assert mounts["./requirements.lock"] == "/opt/airflow/requirements.lock"
    depends = service["depends_on"]
    assert depends["airflow-init"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"


def test_kubernetes_default_points_at_k3s(compose: dict) -> None:
    env = _env(compose["services"]["airflow-scheduler"])
    conn = json.loads(_substitute_defaults(env["AIRFLOW_CONN_KUBERNETES_DEFAULT"]))
    assert conn["conn_type"] == "kubernetes"
    kubeconfig = Path(conn["extra"]["kube_config_path"])
    # The kubeconfig the connection names is the one k3s-kubeconfig rewrites to reach https://k3s:6443.
    rewrite = compose["services"]["k3s-kubeconfig"]
    assert f"> /output/{kubeconfig.name}" in rewrite["command"][-1]
    assert "https://k3s:6443" in rewrite["command"][-1]
    assert "kubeconfig:/opt/k3s:ro" in compose["services"]["airflow-scheduler"]["volumes"]
    assert str(kubeconfig.parent) == "/opt/k3s"
    assert "--tls-san=k3s" in compose["services"]["k3s"]["command"]


def test_aws_default_points_at_minio_with_its_credentials(compose: dict) -> None:
    env = _env(compose["services"]["airflow-worker"])
    conn = json.loads(_substitute_defaults(env["AIRFLOW_CONN_AWS_DEFAULT"]))
    minio = _env(compose["services"]["minio"])
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == "http://minio:9000"
    assert conn["login"] == _substitute_defaults(minio["MINIO_ROOT_USER"])
    assert conn["password"] == _substitute_defaults(minio["MINIO_ROOT_PASSWORD"])


def test_every_dependency_names_a_service(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown service {needed}"


def test_docker_compose_validates_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        service_unavailable("docker-compose is not installed (Debian: apt-get install docker-compose)")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
