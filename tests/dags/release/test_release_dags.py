"""The DAGs a release spec becomes: structure (via topological order), params, pools, import errors."""

from __future__ import annotations

import json
import shutil
from copy import deepcopy
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from podium.release.graph import find_cycle, topological_order, with_dependencies
from podium.release.plan import report_table, set_images, version_of

REPO = Path(__file__).resolve().parents[3]
SPEC_DIR = REPO / "include" / "releases"
DEPENDS = {
    "catalog": [],
    "inventory": [],
    "payments": [],
    "cart": ["catalog", "inventory"],
    "storefront-web": ["cart", "payments", "catalog"],
}


@pytest.fixture(scope="module")
def dags(airflow_db) -> dict:
    bag = DagBag(dag_folder=str(REPO / "dags" / "release_storefront.py"))
    assert bag.import_errors == {}
    return bag.dags


def group_tasks(dag, service: str) -> list[str]:
    return [t for t in dag.task_ids if t.startswith(f"{service}.")]


def test_one_dag_per_environment(dags) -> None:
    assert sorted(dags) == ["release__storefront__production", "release__storefront__staging"]
    for dag in dags.values():
        assert dag.max_active_runs == 1
        assert dag.schedule is None
        assert {"podium", "release", "storefront"} <= set(dag.tags)


@pytest.mark.parametrize("env", ["staging", "production"])
def test_services_run_in_dependency_order_and_independent_ones_in_parallel(dags, env) -> None:
    dag = dags[f"release__storefront__{env}"]
    order = [t.task_id for t in dag.topological_sort()]
    position = {task_id: i for i, task_id in enumerate(order)}
    for service, deps in DEPENDS.items():
        first = min(position[t] for t in group_tasks(dag, service))
        upstream = dag.get_task(order[first]).get_flat_relative_ids(upstream=True)
        for dep in deps:
            # every task of a dependency comes first, and is upstream of the service's first task
            assert max(position[t] for t in group_tasks(dag, dep)) < first
            assert set(group_tasks(dag, dep)) <= upstream
    for a, b in [
        ("catalog", "inventory"),
        ("catalog", "payments"),
        ("inventory", "payments"),
        ("cart", "payments"),
    ]:
        assert not set(group_tasks(dag, a)) & dag.get_task(f"{b}.rollout").get_flat_relative_ids(
            upstream=True
        )
        assert not set(group_tasks(dag, b)) & dag.get_task(f"{a}.rollout").get_flat_relative_ids(
            upstream=True
        )
    assert order[0] == "plan"
    assert order[-3:] == ["rollback", "report", "outcome"]
    assert [t.task_id for t in dag.leaves] == ["outcome"]
    # inside a service: pre-deploy hooks, rollout, health, smoke
    assert group_tasks(dag, "catalog") == ["catalog.pre_migrate", "catalog.rollout", "catalog.health"]
    assert group_tasks(dag, "storefront-web") == [
        "storefront-web.rollout",
        "storefront-web.health",
        "storefront-web.smoke",
    ]
    assert [dag.get_task(t).task_id for t in sorted(dag.get_task("catalog.health").upstream_task_ids)] == [
        "catalog.rollout"
    ]


def test_approval_gates_production_only(dags) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    production, staging = dags["release__storefront__production"], dags["release__storefront__staging"]
    assert "approve" not in staging.task_ids
    approve = production.get_task("approve")
    assert isinstance(approve, ApprovalOperator)
    assert approve.upstream_task_ids == {"plan"}
    changing = [t for t in production.task_ids if t not in ("plan", "approve")]
    assert set(changing) <= approve.get_flat_relative_ids(upstream=False)
    assert approve.ignore_downstream_trigger_rules  # a rejection skips rollback, report and outcome too


@pytest.mark.parametrize("env", ["staging", "production"])
def test_failure_handling_tasks_run_whatever_happened(dags, env) -> None:
    dag = dags[f"release__storefront__{env}"]
    for task_id in ("rollback", "report", "outcome"):
        assert dag.get_task(task_id).trigger_rule == "all_done"
    rollback = dag.get_task("rollback")
    everything = {t for t in dag.task_ids if "." in t}
    assert everything <= rollback.get_flat_relative_ids(upstream=True)
    pool = f"podium_release_{env}"
    assert {dag.get_task(t).pool for t in dag.task_ids if t.endswith(".rollout")} == {pool}
    assert rollback.pool == pool
    assert [o.uri for o in dag.get_task("report").outlets] == [f"x-podium-release://storefront/{env}"]


def test_pools_of_every_release_are_created_by_make_run(dags) -> None:
    pools = json.loads((REPO / "include" / "pools.json").read_text())  # `airflow pools import` format
    used = {dag.get_task(t).pool for dag in dags.values() for t in dag.task_ids if dag.get_task(t).pool}
    assert used - {"default_pool"} <= set(pools)
    assert all(pool["slots"] >= 1 and pool["include_deferred"] for pool in pools.values())


def validate_with(params, name: str, value) -> None:
    changed = deepcopy(params)
    changed[name] = value
    changed.validate()


def test_trigger_form_validates_tags_and_services(dags) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    params = dags["release__storefront__staging"].params
    assert params["tag_storefront_web"] == "5.2.0"
    assert params["services"] == list(DEPENDS)
    assert params["dry_run"] is False
    good = deepcopy(params)
    good["tag_cart"] = "2.0.0-rc.1"
    good["services"] = ["cart"]
    good.validate()
    for name, bad in [
        ("tag_cart", "-1"),
        ("tag_cart", "a b"),
        ("services", ["cart", "kart"]),
        ("services", []),
    ]:
        with pytest.raises(ParamValidationError):
            validate_with(params, name, bad)


def test_a_broken_spec_is_that_files_import_error_and_others_still_load(tmp_path, airflow_db) -> None:
    specs = tmp_path / "releases"
    shutil.copytree(SPEC_DIR, specs)
    broken = (
        (specs / "storefront.yaml")
        .read_text()
        .replace("depends_on: [catalog, inventory]", "dependson: [catalog]")
    )
    (specs / "broken.yaml").write_text(broken.replace("name: storefront\n", "name: broken\n", 1))
    folder = tmp_path / "dags"
    folder.mkdir()
    for name in ("storefront", "broken"):
        (folder / f"release_{name}.py").write_text(
            "# an airflow dag file\nfrom podium.dagbuilders.release import release_dags\n"
            f"release_dags({str(specs / (name + '.yaml'))!r}, globals())\n"
        )
    bag = DagBag(dag_folder=str(folder))
    assert sorted(bag.dags) == ["release__storefront__production", "release__storefront__staging"]
    assert list(bag.import_errors) == [str(folder / "release_broken.py")]
    message = bag.import_errors[str(folder / "release_broken.py")]
    assert f"{specs / 'broken.yaml'}: 1 problem" in message
    assert (
        "services[3].dependson (line 60:5): unknown key 'dependson' (did you mean 'depends_on'?)" in message
    )


# -- the pure parts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": [], "b": ["a"]}, []),
        ({"a": ["a"]}, ["a", "a"]),
        ({"a": ["b"], "b": ["a"]}, ["a", "b", "a"]),
        ({"a": ["b"], "b": ["c"], "c": ["d"], "d": ["b"]}, ["b", "c", "d", "b"]),
        ({"x": [], "a": ["x", "b"], "b": ["x", "a"]}, ["a", "b", "a"]),
        ({"a": ["missing"]}, []),
    ],
)
def test_find_cycle(graph, cycle) -> None:
    assert find_cycle(graph) == cycle


def test_order_and_closure() -> None:
    assert topological_order(DEPENDS) == ["catalog", "inventory", "payments", "cart", "storefront-web"]
    assert topological_order({"b": ["a"], "a": []}) == ["a", "b"]
    assert with_dependencies(["cart"], DEPENDS) == {"cart", "catalog", "inventory"}
    assert with_dependencies(["payments"], DEPENDS) == {"payments"}
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        topological_order({"a": ["b"], "b": ["a"]})


def test_set_images_and_versions() -> None:
    doc = {
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "web", "image": "x:1"}],
                    "initContainers": [{"name": "init", "image": "y:1"}],
                }
            }
        },
    }
    changed = set_images(doc, {"web": "x:2", "init": "y:2"})
    assert [c["image"] for c in changed["spec"]["template"]["spec"]["containers"]] == ["x:2"]
    assert doc["spec"]["template"]["spec"]["containers"][0]["image"] == "x:1"  # a copy
    with pytest.raises(KeyError, match="has no container named api"):
        set_images(doc, {"api": "x:2"})
    assert version_of({"a": "ghcr.io:5000/x/a:1.2", "b": "b:1.2"}) == "1.2"
    assert version_of({"a": "a"}) == "latest"
    assert version_of({}) == "-"


def test_report_table() -> None:
    table = report_table(
        [
            {"service": "catalog", "from": "1.4.0", "to": "1.5.0", "result": "released", "duration": 12.34},
            {
                "service": "storefront-web",
                "from": "5.2.0",
                "to": "5.2.0",
                "result": "failed, rolled back",
                "duration": None,
            },
        ]
    ).splitlines()
    assert table[0].split() == ["service", "from", "to", "result", "duration"]
    assert table[2].split() == ["catalog", "1.4.0", "1.5.0", "released", "12.3s"]
    assert table[3].split() == ["storefront-web", "5.2.0", "5.2.0", "failed,", "rolled", "back", "-"]
