"""Parse time of a release DAG file for specs of 10, 100 and 500 services, beside dag-factory.

For each size N this writes, in a temporary folder:

* a release spec with N services (each with a workload manifest, health check and dependencies on up
  to two earlier services; every 10th with a pre-deploy Job, every 5th with a smoke test) and a DAG
  file that calls ``podium.dagbuilders.release.release_dags`` on it;
* a dag-factory YAML (dag-factory, pinned in bench/requirements-bench.txt and installed into
  .bench-deps/, never into .venv: its Airflow plugin would load everywhere) describing a DAG of the
  same tasks, task groups and dependencies (EmptyOperator tasks: the cheapest operator dag-factory
  can build), and a DAG file that calls ``dagfactory.load_yaml_dags`` on it.

Each measurement is a fresh Python process that first imports Airflow and the DagBag machinery (what
every dag-processor has loaded), then times ``DagBag(dag_folder=file)``: the incremental parse cost of
the file, including the modules it imports (the dag-processor parses each file in a fresh process).
Medians of --repeats processes. Both files must produce DAGs with the same number of tasks and
dependency edges, or the run fails. Targets: 100 services within 100 ms; faster than dag-factory at
every size.

    python bench/release_parse.py [--repeats 5] [--sizes 10 100 500]     (prints JSON on stdout)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _child import child_samples  # bench/ is sys.path[0] when run as a script

REPO = Path(__file__).resolve().parents[1]

MEASURE = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import airflow.sdk  # noqa: F401  (Airflow itself, loaded before timing)
from airflow.dag_processing.dagbag import DagBag

start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - start
dags = list(bag.dags.values())
print(json.dumps({
    "seconds": seconds,
    "tasks": sum(len(d.tasks) for d in dags),
    "edges": sum(len(t.downstream_task_ids) for d in dags for t in d.tasks),
    "import_errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()},
}))
"""

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: "ghcr.io/bench/app:0"}]
"""
JOB = """apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: app, image: "ghcr.io/bench/app:0"}]
"""


def services(n: int) -> list[dict[str, Any]]:
    result = []
    for i in range(n):
        deps = sorted({i - 1, i // 2} - {i}) if i % 7 else []
        result.append(
            {
                "name": f"svc-{i:03d}",
                "depends_on": [f"svc-{d:03d}" for d in deps if d >= 0],
                "pre_deploy": i % 10 == 0,
                "smoke": i % 5 == 0,
            }
        )
    return result


def release_spec(n: int) -> str:
    lines = [
        "apiVersion: podium/v1",
        "kind: Release",
        f"name: bench{n}",
        "environments:",
        "  - {name: staging, namespace: bench-staging}",
        "services:",
    ]
    for s in services(n):
        lines += [
            f"  - name: {s['name']}",
            "    workload: {manifests: app.yaml}",
            f"    images: {{app: ghcr.io/bench/{s['name']}}}",
            '    tag: "1.0.0"',
            f"    depends_on: [{', '.join(s['depends_on'])}]",
            f"    health: {{service: {s['name']}, port: 80, path: /healthz}}",
        ]
        if s["pre_deploy"]:
            lines += ["    pre_deploy:", "      - {name: migrate, job: job.yaml}"]
        if s["smoke"]:
            lines += [f"    smoke: {{url: 'http://{s['name']}/smoke'}}"]
    return "\n".join(lines) + "\n"


def dagfactory_yaml(n: int) -> str:
    """The same DAG for dag-factory: plan, a task group per service, rollback, report, outcome."""
    empty = "airflow.providers.standard.operators.empty.EmptyOperator"
    groups: dict[str, Any] = {}
    tasks: dict[str, Any] = {"plan": {"operator": empty}}
    dependents = {d for s in services(n) for d in s["depends_on"]}
    for s in services(n):
        name = s["name"].replace("-", "_")
        groups[name] = {"dependencies": [d.replace("-", "_") for d in s["depends_on"]] or ["plan"]}
        chain = ([f"{name}__pre_migrate"] if s["pre_deploy"] else []) + [
            f"{name}__rollout",
            f"{name}__health",
        ]
        chain += [f"{name}__smoke"] if s["smoke"] else []
        for k, task in enumerate(chain):
            tasks[task] = {"operator": empty, "task_group_name": name}
            if k:
                tasks[task]["dependencies"] = [chain[k - 1]]
    leaves = [s["name"].replace("-", "_") for s in services(n) if s["name"] not in dependents]
    tasks["rollback"] = {"operator": empty, "trigger_rule": "all_done", "dependencies": leaves}
    tasks["report"] = {"operator": empty, "trigger_rule": "all_done", "dependencies": ["rollback"]}
    tasks["outcome"] = {"operator": empty, "trigger_rule": "all_done", "dependencies": ["report"]}
    config = {
        f"dagfactory_bench{n}": {
            "default_args": {"owner": "platform", "start_date": "2026-01-01"},
            "schedule": None,
            "catchup": False,
            "max_active_runs": 1,
            "task_groups": groups,
            "tasks": tasks,
        }
    }
    return json.dumps(config, indent=1)  # JSON is YAML


def measure(path: Path, repeats: int, env: dict[str, str]) -> dict[str, Any]:
    samples = child_samples(MEASURE, path, repeats, env)
    last = samples[-1]
    seconds = [s["seconds"] for s in samples]
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        "tasks": last["tasks"],
        "edges": last["edges"],
    }


def bench_deps() -> Path:
    """.bench-deps/ with the pinned baselines of bench/requirements-bench.txt (installed once, no deps)."""
    target = REPO / ".bench-deps"
    pins = REPO / "bench" / "requirements-bench.txt"
    stamp = target / ".installed"
    if not stamp.exists() or stamp.read_text() != pins.read_text():
        uv = shutil.which("uv")
        command = (
            [uv, "pip", "install", "--python", sys.executable]
            if uv
            else [sys.executable, "-m", "pip", "install", "--quiet"]
        )
        subprocess.run([*command, "--no-deps", "--target", str(target), "-r", str(pins)], check=True)
        stamp.write_text(pins.read_text())
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="podium-release-bench-") as tmp:
        home = Path(tmp)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "PODIUM_INCLUDE_DIR": str(REPO / "include"),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO / "plugins"), os.environ.get("PYTHONPATH")])
            ),
        }
        (home / "app.yaml").write_text(MANIFEST)
        (home / "job.yaml").write_text(JOB)
        with_dagfactory = {
            **env,
            "PYTHONPATH": os.pathsep.join([str(bench_deps()), env["PYTHONPATH"]]),
        }
        for n in args.sizes:
            spec = home / f"bench{n}.yaml"
            spec.write_text(release_spec(n))
            ours = home / f"release_bench{n}.py"
            ours.write_text(
                "# airflow dag file\nfrom podium.dagbuilders.release import release_dags\n\n"
                f"release_dags({str(spec)!r}, globals())\n"
            )
            config = home / f"dagfactory_bench{n}.yml"
            config.write_text(dagfactory_yaml(n))
            theirs = home / f"dagfactory_bench{n}.py"
            theirs.write_text(
                "# airflow dag file\nfrom dagfactory import load_yaml_dags\n\n"
                f"load_yaml_dags(globals_dict=globals(), config_filepath={str(config)!r})\n"
            )
            podium = measure(ours, args.repeats, env)
            dagfactory = measure(theirs, args.repeats, with_dagfactory)
            if (podium["tasks"], podium["edges"]) != (dagfactory["tasks"], dagfactory["edges"]):
                raise SystemExit(f"N={n}: the two DAGs differ: podium {podium}, dag-factory {dagfactory}")
            results.append(
                {
                    "services": n,
                    "spec_lines": len(spec.read_text().splitlines()),
                    "podium": podium,
                    "dag_factory": dagfactory,
                    "podium_vs_dag_factory": round(podium["median_ms"] / dagfactory["median_ms"], 3),
                    "target_100_services_100ms": podium["median_ms"] <= 100 if n == 100 else None,
                    "faster_than_dag_factory": podium["median_ms"] < dagfactory["median_ms"],
                }
            )
    print(
        json.dumps(
            {
                "benchmark": "release_parse",
                "python": platform.python_version(),
                "airflow": _version("apache-airflow"),
                "dag_factory": _version("dag-factory", bench_deps()),
                "repeats": args.repeats,
                "baseline": "dag-factory building the same tasks and dependencies from YAML, same run",
                "results": results,
            },
            indent=2,
        )
    )


def _version(package: str, path: Path | None = None) -> str:
    from importlib.metadata import distributions, version

    if path is None:
        return version(package)
    return next(iter(distributions(name=package, path=[str(path)]))).version


if __name__ == "__main__":
    main()
