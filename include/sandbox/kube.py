"""The podium Kubernetes sandbox: a Kubernetes API double with simulated controllers on loopback.

    python include/sandbox/kube.py --port 6443 --kubeconfig .run/kubeconfig.yaml

Serves http://127.0.0.1:PORT until killed, writes a kubeconfig for it, and prints one line,
``kubesim ready: http://127.0.0.1:PORT kubeconfig=FILE``, once it answers. kubectl, the kubernetes and
kubernetes_asyncio clients and Airflow's cncf.kubernetes hooks all work against it. A pod's fate
follows its image tag: ``-crash`` crash-loops, ``-nopull`` fails to pull, ``-fail`` fails (Job pods);
anything else becomes Ready after the readiness delay. See README.md ("Kubernetes sandbox").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web
from kubesim.faults import Faults
from kubesim.server import KubeServer

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: podium-sandbox
  cluster:
    server: {server}
users:
- name: podium-sandbox
  user:
    token: podium-sandbox
contexts:
- name: podium-sandbox
  context:
    cluster: podium-sandbox
    user: podium-sandbox
    namespace: default
current-context: podium-sandbox
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Kubernetes API double with simulated controllers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for this server here")
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=2.0,
        help="controller seconds until a healthy pod is Ready (per pod: annotation "
        "sandbox.podium.dev/ready-delay)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="controller seconds per real second")
    parser.add_argument("--nodes", type=int, default=3, help="simulated nodes (DaemonSet pods run on each)")
    parser.add_argument("--tick", type=float, default=0.05, help="real seconds between controller passes")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered with an error"
    )
    parser.add_argument("--error-status", type=int, default=500, choices=(500, 429))
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of requests dropped unanswered")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument("--watch-close-after", type=float, help="close watch streams after this many seconds")
    parser.add_argument("--fault-path", help="regex: only matching request paths get faults")
    parser.add_argument("--seed", type=int, help="seed for fault injection")
    parser.add_argument(
        "--state-file",
        type=Path,
        help="keep the objects here across restarts: loaded at start, saved while they change and at stop",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    faults = Faults(
        error_rate=args.error_rate,
        error_status=args.error_status,
        drop_rate=args.drop_rate,
        latency_ms=args.latency_ms,
        watch_close_after=args.watch_close_after,
        path=args.fault_path,
        seed=args.seed,
    )
    server = KubeServer(
        ready_delay=args.ready_delay, speed=args.speed, nodes=args.nodes, tick=args.tick, faults=faults
    )
    if args.state_file is not None and args.state_file.is_file():
        restore_state(server, args.state_file)
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=2048)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://{args.host}:{port}"
    server.address = f"{args.host}:{port}"
    if args.kubeconfig:
        args.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        args.kubeconfig.write_text(KUBECONFIG.format(server=url))
    print(f"kubesim ready: {url} kubeconfig={args.kubeconfig or ''}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    saver = asyncio.create_task(keep_saved(server, args.state_file)) if args.state_file else None
    await stop.wait()
    if saver is not None:
        saver.cancel()
        save_state(server, args.state_file)
    await runner.cleanup()


def save_state(server: KubeServer, path: Path) -> None:
    """Write the store's snapshot and the controllers' time, atomically (a crash mid-write leaves the
    previous one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({**server.store.snapshot(), "clock": server.clock.iso()}))
    os.replace(partial, path)


def restore_state(server: KubeServer, path: Path) -> None:
    """Load a saved state; controller time never goes back (with --speed above 1 it runs ahead of the
    wall clock, and pod ages are measured on it)."""
    from kubesim.clock import parse_time

    data = json.loads(path.read_text())
    server.store.restore(data)
    if data.get("clock"):
        behind = (parse_time(data["clock"]) - server.clock.now()).total_seconds()
        if behind > 0:
            server.clock.advance(behind)


async def keep_saved(server: KubeServer, path: Path, every: float = 2.0) -> None:
    """Save the state every ``every`` seconds while it changes, so a SIGKILL loses little."""
    saved = server.store.revision
    while True:
        await asyncio.sleep(every)
        if server.store.revision != saved:
            saved = server.store.revision
            save_state(server, path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))  # one fd per watch
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
