"""How the Kubernetes sandbox holds many concurrent watch streams (so rollout benchmarks measure podium).

Starts include/sandbox/kube.py, opens N watch streams on ConfigMaps at once, then creates M ConfigMaps
one after another and times, for every stream, when each ADDED event arrives. Reports delivery
latency (p50/p99/max), deliveries missed, request errors, and the server's peak RSS and CPU time. The
baseline, measured in the same run the same way, is a single watch stream.

    python bench/kube_watch_streams.py [--streams 1000] [--events 20]      (prints JSON on stdout)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
KUBE = REPO / "include" / "sandbox" / "kube.py"
PATH = "/api/v1/namespaces/default/configmaps"


def proc_stats(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {
        key: value.split()[0] for key, _, value in (line.partition(":") for line in status) if value.split()
    }
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = float(subprocess.check_output(["getconf", "CLK_TCK"]).strip())
    return {
        "rss_mib": int(fields["VmRSS"]) / 1024,
        "peak_rss_mib": int(fields["VmHWM"]) / 1024,
        "cpu_s": (int(stat[11]) + int(stat[12])) / ticks,
    }


async def run_case(url: str, pid: int, streams: int, events: int, tag: str) -> dict:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async with session.get(f"{url}{PATH}") as response:
            since = (await response.json())["metadata"]["resourceVersion"]
        arrivals: list[dict[str, float]] = [{} for _ in range(streams)]
        errors = 0
        opened = asyncio.Event()
        open_count = 0

        async def watch(index: int) -> None:
            nonlocal errors, open_count
            params = {"watch": "1", "resourceVersion": since, "timeoutSeconds": "600"}
            try:
                async with session.get(f"{url}{PATH}", params=params) as response:
                    if response.status != 200:
                        errors += 1
                        return
                    open_count += 1
                    if open_count == streams:
                        opened.set()
                    async for line in response.content:
                        event = json.loads(line)
                        name = event["object"]["metadata"]["name"]
                        if name.startswith(tag):
                            arrivals[index][name] = time.perf_counter()
                            if len(arrivals[index]) == events:
                                return
            except (TimeoutError, aiohttp.ClientError):
                errors += 1

        before = proc_stats(pid)
        started = time.perf_counter()
        tasks = [asyncio.create_task(watch(i)) for i in range(streams)]
        await asyncio.wait_for(opened.wait(), timeout=120)
        open_seconds = time.perf_counter() - started
        sent: dict[str, float] = {}
        for n in range(events):
            name = f"{tag}-{n}"
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name},
                "data": {"n": str(n)},
            }
            sent[name] = time.perf_counter()
            async with session.post(f"{url}{PATH}", json=body) as response:
                if response.status != 201:
                    errors += 1
            await asyncio.sleep(0.05)
        _, pending = await asyncio.wait(tasks, timeout=120)
        for task in pending:
            task.cancel()
        after = proc_stats(pid)

    latencies = sorted(
        (arrived[name] - sent[name]) * 1000 for arrived in arrivals for name in arrived if name in sent
    )
    expected = streams * events
    return {
        "streams": streams,
        "events": events,
        "deliveries": len(latencies),
        "missed": expected - len(latencies),
        "errors": errors,
        "open_all_s": round(open_seconds, 3),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2) if latencies else None,
            "p99": round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else None,
            "max": round(latencies[-1], 2) if latencies else None,
        },
        "server": {
            "rss_mib": round(after["rss_mib"], 1),
            "peak_rss_mib": round(after["peak_rss_mib"], 1),
            "cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="watch-stream capacity of the Kubernetes sandbox")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    with tempfile.TemporaryDirectory() as workdir:
        server = subprocess.Popen(
            [sys.executable, str(KUBE), "--port", "0", "--kubeconfig", f"{workdir}/kubeconfig"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[2]
            baseline = asyncio.run(run_case(url, server.pid, 1, args.events, "baseline"))
            measured = asyncio.run(run_case(url, server.pid, args.streams, args.events, "load"))
        finally:
            server.terminate()
            server.wait(timeout=10)
            if server.stdout is not None:
                server.stdout.close()

    ratio = None
    if baseline["latency_ms"]["p50"] and measured["latency_ms"]["p50"]:
        ratio = round(measured["latency_ms"]["p50"] / baseline["latency_ms"]["p50"], 1)
    print(
        json.dumps(
            {
                "benchmark": "kube_watch_streams",
                "baseline": {"name": "one watch stream", **baseline},
                "measured": measured,
                "vs_baseline": {"p50_latency_ratio": ratio},
                "held": measured["missed"] == 0 and measured["errors"] == 0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
