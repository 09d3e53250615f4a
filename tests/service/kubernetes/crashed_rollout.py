"""A rollout attempt that a test kills mid-wait (a worker crash), of any workload.

Run as a script: argv = conn id, run id, the operator's keyword arguments as JSON (``manifest`` or
``workload`` with ``images``). The task is ``release/<run id>/roll``: a retry in the test uses the same.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

from podium.operators.kubernetes import KubernetesRolloutOperator

if __name__ == "__main__":
    conn_id, run_id, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    operator = KubernetesRolloutOperator(
        task_id="roll", kubernetes_conn_id=conn_id, timeout=120, deferrable=False, **kwargs
    )
    print("attempt started", flush=True)
    operator.execute({"ti": SimpleNamespace(dag_id="release", run_id=run_id, task_id="roll")})
