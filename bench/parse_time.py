"""Incremental parse cost of each DAG file in dags/, after Airflow itself is imported.

Each measurement is a fresh Python process that first imports Airflow (airflow.sdk and the DagBag
machinery, which every dag-processor has loaded anyway), then times what the dag-processor does
with the file: DagBag(dag_folder=file). Reported per file: wall seconds (median/min/max of --repeats
processes), the growth of peak RSS, and how many modules the file pulled in. The baseline, measured in
the same run the same way, is the smallest real DAG (one EmptyOperator task): podium's cost is what a
file adds on top of it.

    python bench/parse_time.py [--repeats 5] [FILE ...]      (prints JSON on stdout)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

from _child import child_samples  # bench/ is sys.path[0] when run as a script

REPO = Path(__file__).resolve().parents[1]

BASELINE_DAG = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="baseline_minimal", schedule=None, tags=["bench"]):
    EmptyOperator(task_id="noop")
"""

# Runs in the child process: argv[1] is the DAG file. Prints one JSON line.
MEASURE = r"""
import json, resource, sys, time, warnings
import airflow.sdk  # noqa: F401  (Airflow itself, loaded before timing)
from airflow.dag_processing.dagbag import DagBag

path = sys.argv[1]
modules_before = set(sys.modules)
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
bag = DagBag(dag_folder=path)
seconds = time.perf_counter() - start
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "seconds": seconds,
    "rss_growth_kib": rss_after - rss_before,
    "new_modules": len(set(sys.modules) - modules_before),
    "dags": sorted(bag.dag_ids),
    "import_errors": {str(k): str(v)[-300:] for k, v in bag.import_errors.items()},
}))
"""


def measure(path: Path, repeats: int, env: dict[str, str]) -> dict:
    samples = child_samples(MEASURE, path, repeats, env)
    seconds = [s["seconds"] for s in samples]
    last = samples[-1]
    return {
        "dags": last["dags"],
        "median_s": round(statistics.median(seconds), 4),
        "min_s": round(min(seconds), 4),
        "max_s": round(max(seconds), 4),
        "rss_growth_kib": int(statistics.median(s["rss_growth_kib"] for s in samples)),
        "new_modules": last["new_modules"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))

    with tempfile.TemporaryDirectory(prefix="podium-parse-bench-") as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO / "plugins"), os.environ.get("PYTHONPATH")])
            ),
        }
        baseline_file = Path(home) / "baseline_minimal.py"
        baseline_file.write_text(BASELINE_DAG)
        baseline = measure(baseline_file, args.repeats, env)
        results = []
        for path in files:
            stats = measure(path.resolve(), args.repeats, env)
            stats["file"] = str(path.resolve().relative_to(REPO))
            stats["vs_baseline"] = {
                "extra_s": round(stats["median_s"] - baseline["median_s"], 4),
                "ratio": round(stats["median_s"] / baseline["median_s"], 2),
                "extra_modules": stats["new_modules"] - baseline["new_modules"],
            }
            results.append(stats)

    print(
        json.dumps(
            {
                "benchmark": "parse_time",
                "python": platform.python_version(),
                "airflow": _airflow_version(),
                "repeats": args.repeats,
                "baseline": {"name": "one EmptyOperator task", **baseline},
                "files": results,
            },
            indent=2,
        )
    )


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


if __name__ == "__main__":
    main()
