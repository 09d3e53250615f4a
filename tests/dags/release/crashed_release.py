"""A storefront staging release that a test kills mid-way (the worker running it dies).

Run as a script: argv = the run's conf as JSON. It shares the test's Airflow environment (AIRFLOW_HOME,
its SQLite DB, the kubernetes_default connection) through the inherited environment variables.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

if __name__ == "__main__":
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / "release_storefront.py")).get_dag(
        "release__storefront__staging"
    )
    print("release started", flush=True)
    dag.test(run_conf=json.loads(sys.argv[1]))
