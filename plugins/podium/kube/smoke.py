"""Smoke checks after a rollout: does the Service reach ready pods that run the new images?"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def service_selector(service: Mapping[str, Any]) -> str:
    selector = (service.get("spec") or {}).get("selector") or {}
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))


def service_smoke_problems(
    service: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]], images: Mapping[str, str]
) -> list[str]:
    """What is wrong, in words (empty when the check passes): no Service, no selector, no ready pod
    behind it, or ready pods that do not run the expected image of each named container."""
    if service is None:
        return ["the Service does not exist"]
    name = service["metadata"]["name"]
    if not service_selector(service):
        return [f"service/{name} selects no pods (no spec.selector)"]
    ready = [
        p
        for p in pods
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
    ]
    if not ready:
        return [f"service/{name} has no ready pod behind it"]
    problems = []
    for pod in ready:
        running = {c.get("name"): c.get("image") for c in (pod.get("spec") or {}).get("containers") or []}
        for container, image in images.items():
            if running.get(container) != image:
                problems.append(
                    f"pod {pod['metadata']['name']} container {container} runs "
                    f"{running.get(container)!r}, expected {image!r}"
                )
    return problems
