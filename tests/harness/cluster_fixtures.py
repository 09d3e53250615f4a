"""Integration fixtures (a pytest plugin, registered in tests/conftest.py so every test directory shares
one cluster): a real Airflow cluster on a fresh PostgreSQL database per test session."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import AirflowCluster
from harness.kube import KubeSandbox

# A connection the example DAGs can look up; its password must never surface anywhere.
IT_SECRET = "it-" + secrets.token_hex(8)
IT_CONNECTIONS = {
    "AIRFLOW_CONN_PODIUM_IT_WAREHOUSE": json.dumps(
        {
            "conn_type": "postgres",
            "host": "warehouse.internal",
            "port": 5432,
            "login": "etl",
            "password": IT_SECRET,
        }
    ),
}


@pytest.fixture(scope="session")
def metadata_db(postgres) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    import psycopg

    name = f"podium_it_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def cluster_kube(tmp_path_factory) -> Iterator[KubeSandbox]:
    """The Kubernetes sandbox the cluster's `kubernetes_default` points at."""
    sandbox = KubeSandbox(tmp_path_factory.mktemp("cluster-kube"))
    try:
        yield sandbox
    finally:
        sandbox.stop()


# DAGs only the integration tests use, in a second DAG bundle beside the repository's dags/.
TEST_DAGS = Path(__file__).resolve().parents[1] / "integration" / "dags"
BUNDLES = [
    {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
    {
        "name": "podium-tests",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(TEST_DAGS)},
    },
]


@pytest.fixture(scope="session")
def airflow_cluster(postgres, metadata_db, cluster_kube, tmp_path_factory) -> Iterator[AirflowCluster]:
    home: Path = tmp_path_factory.mktemp("airflow-cluster")
    env = {
        **IT_CONNECTIONS,
        "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(
            {"conn_type": "kubernetes", "extra": {"kube_config_path": str(cluster_kube.kubeconfig)}}
        ),
        # podium's operators wait in the triggerer unless a task says otherwise
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(BUNDLES),
    }
    cluster = AirflowCluster(home=home, sql_alchemy_conn=postgres.sqlalchemy_url(metadata_db), env=env)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
