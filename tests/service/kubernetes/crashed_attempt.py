"""A rollout attempt that a test kills mid-wait (a worker crash). Run as a script: argv = conn id, image."""

from __future__ import annotations

import sys
from types import SimpleNamespace

from podium.operators.kubernetes import KubernetesRolloutOperator

if __name__ == "__main__":
    conn_id, image = sys.argv[1], sys.argv[2]
    operator = KubernetesRolloutOperator(
        task_id="roll",
        workload="deployment/web",
        images={"web": image},
        kubernetes_conn_id=conn_id,
        timeout=120,
        deferrable=False,
    )
    print("attempt started", flush=True)
    operator.execute({"ti": SimpleNamespace(dag_id="release", run_id="run-1", task_id="roll")})
