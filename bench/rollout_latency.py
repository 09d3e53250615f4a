"""How fast podium notices a finished rollout, and what many concurrent waits cost.

Runs include/sandbox/kube.py at real speed and measures, in this process:

1. Detection latency over --rollouts rollouts (default 50, staggered): from the moment the sandbox
   finishes a rollout (seen by a separate watch on all Deployments: the first status that is
   complete for the new generation) to the KubernetesRolloutTrigger's event. Beside it, in the same
   run, the baseline: a poll loop at the cncf.kubernetes provider's default interval
   (KubernetesPodOperator.poll_interval = 2 s) calling the same verdict function.
2. Concurrency: 100, 500 and 1,000 rollout triggers in one event loop (as in one triggerer), all
   deployments rolled at once: CPU seconds and CPU share (CPU seconds per wall second) of this
   process while waiting, peak RSS, and event latency. The sandbox's own CPU is reported apart.

    python bench/rollout_latency.py [--rollouts 50] [--concurrency 100,500,1000]   (prints JSON)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
KUBE = REPO / "include" / "sandbox" / "kube.py"
PROVIDER_POLL_INTERVAL = 2.0  # KubernetesPodOperator's default poll_interval
NAMESPACE = "default"


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 3),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 3),
    }


def deployment(name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


class Sandbox:
    def __init__(self, workdir: str) -> None:
        self.kubeconfig = f"{workdir}/kubeconfig"
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(KUBE),
                "--port",
                "0",
                "--kubeconfig",
                self.kubeconfig,
                "--ready-delay",
                "1",
                "--nodes",
                "1",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[2]

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class CompletionWatch:
    """Ground truth: when the sandbox wrote the status that first showed each Deployment's new
    generation fully rolled out (the sandbox's own record, by this machine's wall clock)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.done: dict[tuple[str, int], float] = {}

    async def run(self, since: str) -> None:  # nothing to watch: the sandbox keeps the record
        del since

    async def resolve(self) -> None:
        async with self.session.get(f"{self.url}/_sandbox/rolled-out") as response:
            record = await response.json()
        self.done = {
            (key.split("/", 1)[1], int(generation)): at
            for key, generations in record.items()
            for generation, at in generations.items()
        }


async def create_all(session: aiohttp.ClientSession, url: str, names: list[str]) -> None:
    limit = asyncio.Semaphore(50)

    async def create(name: str) -> None:
        async with (
            limit,
            session.post(
                f"{url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments", json=deployment(name, "app:1")
            ) as response,
        ):
            assert response.status == 201, await response.text()

    await asyncio.gather(*(create(name) for name in names))
    while True:  # until all are rolled out
        async with session.get(f"{url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments") as response:
            items = (await response.json())["items"]
        from podium.kube.status import deployment_verdict

        ready = {d["metadata"]["name"] for d in items if deployment_verdict(d).state == "complete"}
        if set(names) <= ready:
            return
        await asyncio.sleep(0.5)


async def roll(session: aiohttp.ClientSession, url: str, name: str, image: str, ready_after: float) -> None:
    body = {
        "spec": {
            "template": {
                "metadata": {"annotations": {"sandbox.podium.dev/ready-delay": f"{ready_after:.2f}"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        }
    }
    async with session.patch(
        f"{url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}",
        json=body,
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    ) as response:
        assert response.status == 200, await response.text()


async def trigger_wait(name: str) -> float:
    from podium.triggers.kubernetes import KubernetesRolloutTrigger

    trigger = KubernetesRolloutTrigger(
        kind="Deployment",
        name=name,
        namespace=NAMESPACE,
        kubernetes_conn_id="bench_kube",
        timeout_at=time.time() + 600,
    )
    async for event in trigger.run():
        assert event.payload["status"] == "success", event.payload
    return time.time()


async def poll_wait(session: aiohttp.ClientSession, url: str, name: str, generation: int) -> float:
    from podium.kube.status import deployment_verdict

    while True:
        async with session.get(f"{url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}") as response:
            obj = await response.json()
        if obj["metadata"]["generation"] >= generation and deployment_verdict(obj).state == "complete":
            return time.time()
        await asyncio.sleep(PROVIDER_POLL_INTERVAL)


async def warm_up(session: aiohttp.ClientSession, url: str) -> None:
    """Import the clients and open the shared connection once, as a running triggerer already has."""
    await create_all(session, url, ["warm-up"])
    await trigger_wait("warm-up")


async def detection(url: str, rollouts: int) -> dict[str, Any]:
    rng = random.Random(7)
    names = [f"lat-{i}" for i in range(rollouts)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await warm_up(session, url)
        await create_all(session, url, names)
        async with session.get(f"{url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments") as response:
            since = (await response.json())["metadata"]["resourceVersion"]
        truth = CompletionWatch(session, url)
        watcher = asyncio.create_task(truth.run(since))

        async def one(index: int, name: str) -> tuple[str, float, float]:
            await asyncio.sleep(index * 0.2)
            # as the operator does: change the workload, then wait (trigger) or poll (the baseline)
            await roll(session, url, name, "app:2", ready_after=rng.uniform(3, 6))
            trigger_done, poll_done = await asyncio.gather(
                trigger_wait(name), poll_wait(session, url, name, 2)
            )
            return name, trigger_done, poll_done

        results = await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))
        await asyncio.sleep(0.2)
        watcher.cancel()
        await truth.resolve()
    trigger_lat = [t - truth.done[(n, 2)] for n, t, _ in results if (n, 2) in truth.done]
    poll_lat = [p - truth.done[(n, 2)] for n, _, p in results if (n, 2) in truth.done]
    return {
        "rollouts": rollouts,
        "trigger_s": percentiles(trigger_lat),
        "poll_every_2s_s": percentiles(poll_lat),
    }


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def concurrency(sandbox: Sandbox, count: int, round_: int) -> dict[str, Any]:
    names = [f"c{round_}-{i}" for i in range(count)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await create_all(session, sandbox.url, names)
        async with session.get(f"{sandbox.url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments") as response:
            since = (await response.json())["metadata"]["resourceVersion"]
        truth = CompletionWatch(session, sandbox.url)
        watcher = asyncio.create_task(truth.run(since))
        rss_before = rss_mb()
        cpu_before, wall_before, sandbox_before = (
            time.process_time(),
            time.time(),
            sandbox.cpu_seconds(),
        )
        ready_after = max(5.0, count / 100)  # every wait is watching before the first rollout finishes
        limit = asyncio.Semaphore(50)

        async def one(name: str) -> float:
            async with limit:
                await roll(session, sandbox.url, name, "app:2", ready_after)
            return await trigger_wait(name)

        finished = await asyncio.gather(*(one(name) for name in names))
        cpu, wall = time.process_time() - cpu_before, time.time() - wall_before
        sandbox_cpu = sandbox.cpu_seconds() - sandbox_before
        rss_after = rss_mb()
        await asyncio.sleep(0.2)
        watcher.cancel()
        await truth.resolve()
    latencies = [t - truth.done[(n, 2)] for n, t in zip(names, finished, strict=True) if (n, 2) in truth.done]
    return {
        "concurrent_waits": count,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_share": round(cpu / wall, 3),
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "event_latency_s": percentiles(latencies),
        "sandbox_cpu_s": round(sandbox_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="rollout detection latency and concurrent waits")
    parser.add_argument("--rollouts", type=int, default=50)
    parser.add_argument("--concurrency", default="100,500,1000")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    with tempfile.TemporaryDirectory() as workdir:
        os.environ.setdefault("AIRFLOW_HOME", workdir)
        sandbox = Sandbox(workdir)
        os.environ["AIRFLOW_CONN_BENCH_KUBE"] = json.dumps(
            {"conn_type": "kubernetes", "extra": {"kube_config_path": sandbox.kubeconfig}}
        )
        try:
            latency = asyncio.run(detection(sandbox.url, args.rollouts))
            rounds = [
                asyncio.run(concurrency(sandbox, int(n), i))
                for i, n in enumerate(args.concurrency.split(","))
                if n
            ]
        finally:
            sandbox.stop()
    p99 = latency["trigger_s"]["p99"]
    thousand = next((r for r in rounds if r["concurrent_waits"] == 1000), None)
    print(
        json.dumps(
            {
                "benchmark": "rollout_latency",
                "detection": latency,
                "vs_baseline": {
                    "p50_speedup": round(latency["poll_every_2s_s"]["p50"] / latency["trigger_s"]["p50"], 1)
                    if latency["trigger_s"]["p50"]
                    else None,
                },
                "concurrency": rounds,
                "targets": {
                    "detection_p99_under_1s": p99 is not None and p99 < 1.0,
                    "1000_waits_under_one_core": thousand is not None and thousand["cpu_share"] < 1.0,
                    "1000_waits_under_500mb": thousand is not None and thousand["peak_rss_mb"] < 500,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
