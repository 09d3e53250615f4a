"""From a request path to what it names: fixed documents (version, discovery, OpenAPI), the service
proxy, or a resource route (resource, namespace, name, subresource)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubesim.discovery import (
    api_group_list,
    api_resource_list,
    api_versions,
    openapi_document,
    openapi_index,
)
from kubesim.resources import BY_PATH, Resource
from kubesim.store import ApiError, Store
from kubesim.workloads import pod_is_ready

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-podium-sandbox",
    "platform": "linux/amd64",
    "gitCommit": "podium",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
}


@dataclass
class Route:
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


def not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def resolve(path: str) -> Route:
    """The resource route a path names (404 for none)."""
    parts = path.split("/")[1:]
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise not_found()
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    resource = BY_PATH.get((group, version, rest[0]))
    if resource is None:
        raise not_found()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource and subresource not in resource.subresources:
        raise not_found()
    if resource.namespaced and name is not None and namespace is None:
        raise not_found()
    return Route(resource, namespace if resource.namespaced else "", name, subresource)


def fixed(path: str, address: str) -> Any:
    """The documents that are no objects: version, health, discovery, OpenAPI v3; None for the rest."""
    if path == "/version":
        return VERSION
    if path in ("/healthz", "/readyz", "/livez"):
        return "ok"
    if path == "/api":
        return api_versions(address)
    if path == "/apis":
        return api_group_list()
    if path == "/openapi/v3":
        return openapi_index()
    if path.startswith("/openapi/v3/"):
        return _openapi(path)
    parts = path.split("/")[1:]
    if (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) == 3):
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        listing = api_resource_list(group, version)
        if listing is None:
            raise not_found()
        return listing
    return None


def _openapi(path: str) -> Any:
    parts = path.split("/")[3:]
    doc = (
        openapi_document("", parts[1])
        if parts[0] == "api"
        else (openapi_document(parts[1], parts[2]) if len(parts) == 3 else None)
    )
    if doc is None:
        raise not_found()
    return doc


def service_proxy(store: Store, path: str) -> web.Response | None:
    """``/api/v1/namespaces/NS/services/[scheme:]NAME[:port]/proxy/...``: what the pods behind the
    Service would answer. 503 with no ready endpoint (as the API server says it), 500 when a ready
    pod runs an image whose tag ends in ``-unhealthy`` (a health check to fail), else 200."""
    parts = path.split("/")
    if len(parts) < 8 or parts[5] != "services" or parts[7] != "proxy":
        return None
    namespace, target = parts[4], parts[6]
    pieces = target.split(":")
    name = pieces[1] if len(pieces) == 3 else pieces[0]
    service = store.get("/services", namespace, name)
    selector = (service.get("spec") or {}).get("selector") or {}
    pods = [
        p
        for p in store.select("/pods", namespace)
        if selector
        and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        and pod_is_ready(p)
        and not p["metadata"].get("deletionTimestamp")
    ]
    if not pods:
        error = ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{target}"')
        return web.json_response(error.status(), status=503)
    images = sorted({c.get("image", "") for p in pods for c in (p.get("spec") or {}).get("containers") or []})
    sick = [i for i in images if i.rsplit(":", 1)[-1].endswith("-unhealthy")]
    body = {"service": name, "path": "/" + "/".join(parts[8:]), "readyPods": len(pods), "images": images}
    if sick:
        return web.json_response({**body, "status": "unhealthy", "unhealthy": sick}, status=500)
    return web.json_response({**body, "status": "ok"})
