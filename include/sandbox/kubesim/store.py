"""Object store with Kubernetes semantics: uid, resourceVersion, generation, history and watchers.

Selectors are parsed in selectors.py."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (resource id, namespace, name); resource id is "group/plural"


class ApiError(Exception):
    """An error the server answers with a Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


# -- the store -------------------------------------------------------------------------------------


@dataclass
class Event:
    resource_version: int
    type: str
    resource: str
    obj: Obj


@dataclass(eq=False)
class Watcher:
    resource: str
    namespace: str | None
    labels: Callable[[dict[str, str]], bool]
    fields: Callable[[Obj], bool]
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(maxsize=10000))

    def wants(self, event: Event) -> bool:
        if event.resource != self.resource:
            return False
        meta = event.obj["metadata"]
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return self.labels(meta.get("labels") or {}) and self.fields(event.obj)


class Store:
    """All objects, one global resourceVersion, an event history for watches, and the watchers."""

    def __init__(self, clock: Callable[[], str], history: int = 20000) -> None:
        self.clock = clock
        self.revision = 1
        self.objects: dict[Key, Obj] = {}
        self.history: deque[Event] = deque(maxlen=history)
        self.watchers: set[Watcher] = set()
        self.applied: dict[tuple[str, str], Obj] = {}  # (uid, field manager) -> last applied config
        self.listeners: list[Callable[[Event], None]] = []
        self.dependents: dict[str, set[Key]] = {}  # owner uid -> keys of the objects it owns
        self.by_resource: dict[str, set[Key]] = {}  # resource id -> keys of its objects

    # reads
    def get(self, resource: str, namespace: str, name: str) -> Obj:
        obj = self.objects.get((resource, namespace, name))
        if obj is None:
            group, _, plural = resource.partition("/")
            qualified = f"{plural}.{group}" if group else plural
            raise ApiError(404, "NotFound", f'{qualified} "{name}" not found', {"name": name, "kind": plural})
        return obj

    def find(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((resource, namespace, name))

    def select(
        self,
        resource: str,
        namespace: str | None = None,
        labels: Callable[[dict[str, str]], bool] | None = None,
        fields: Callable[[Obj], bool] | None = None,
    ) -> list[Obj]:
        items = [
            self.objects[key]
            for key in self.by_resource.get(resource, ())
            if namespace is None or key[1] == namespace
        ]
        if labels:
            items = [o for o in items if labels(o["metadata"].get("labels") or {})]
        if fields:
            items = [o for o in items if fields(o)]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def owned_by(self, owner: Obj, resource: str) -> list[Obj]:
        keys = self.dependents.get(owner["metadata"]["uid"], set())
        found = [self.objects[key] for key in keys if key[0] == resource and key in self.objects]
        return sorted(found, key=lambda o: o["metadata"]["name"])

    def _index(self, key: Key, obj: Obj | None, previous: Obj | None) -> None:
        for ref in (previous or {}).get("metadata", {}).get("ownerReferences") or []:
            self.dependents.get(ref.get("uid"), set()).discard(key)
        for ref in (obj or {}).get("metadata", {}).get("ownerReferences") or []:
            self.dependents.setdefault(ref.get("uid"), set()).add(key)

    # writes
    def _bump(self) -> str:
        self.revision += 1
        return str(self.revision)

    def _emit(self, kind: str, resource: str, obj: Obj) -> None:
        event = Event(self.revision, kind, resource, copy.deepcopy(obj))
        self.history.append(event)
        for watcher in list(self.watchers):
            if watcher.wants(event):
                try:
                    watcher.queue.put_nowait(event)
                except asyncio.QueueFull:  # a stuck client: end its stream, as the API server does
                    self.watchers.discard(watcher)
                    watcher.queue.put_nowait(None) if not watcher.queue.full() else None
        for listener in self.listeners:
            listener(event)

    def create(self, resource: str, namespace: str, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        if namespace:
            meta["namespace"] = namespace
        if (resource, namespace, name) in self.objects:
            group, _, plural = resource.partition("/")
            qualified = f"{plural}.{group}" if group else plural
            raise ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists', {"name": name})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.clock()
        meta["generation"] = 1
        meta["resourceVersion"] = self._bump()
        self.objects[(resource, namespace, name)] = obj
        self.by_resource.setdefault(resource, set()).add((resource, namespace, name))
        self._index((resource, namespace, name), obj, None)
        self._emit("ADDED", resource, obj)
        return obj

    def update(
        self,
        resource: str,
        namespace: str,
        obj: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Replace an object (PUT semantics), honouring optimistic concurrency.

        With ``dry_run`` the result is what would be stored (generation included), and nothing changes.
        """
        name = obj.get("metadata", {}).get("name")
        current = self.get(resource, namespace, name)
        expected = obj.get("metadata", {}).get("resourceVersion")
        if expected and expected != current["metadata"]["resourceVersion"]:
            group, _, plural = resource.partition("/")
            qualified = f"{plural}.{group}" if group else plural
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": name},
            )
        new = copy.deepcopy(obj)
        if subresource == "status":
            keep = copy.deepcopy(current)
            keep["status"] = new.get("status", {})
            new = keep
        else:
            # status is written through /status only; system metadata is the server's
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        for key in ("uid", "creationTimestamp", "generation", "namespace"):
            if key in current["metadata"]:
                meta[key] = current["metadata"][key]
        if _spec_of(new) != _spec_of(current):
            meta["generation"] = current["metadata"].get("generation", 1) + 1
        if _comparable(new) == _comparable(current):
            return current  # a no-op write changes nothing, not even resourceVersion
        if dry_run:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new
        meta["resourceVersion"] = self._bump()
        self.objects[(resource, namespace, name)] = new
        self._index((resource, namespace, name), new, current)
        self._emit("MODIFIED", resource, new)
        return new

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        obj = self.get(resource, namespace, name)
        del self.objects[(resource, namespace, name)]
        self.by_resource[resource].discard((resource, namespace, name))
        self._index((resource, namespace, name), None, obj)
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self._bump()
        self._emit("DELETED", resource, obj)
        for key in [k for k in self.applied if k[0] == obj["metadata"]["uid"]]:
            del self.applied[key]
        self._collect_garbage(obj["metadata"]["uid"])
        return obj

    def _collect_garbage(self, owner_uid: str) -> None:
        """Background cascading deletion: dependents go with their owner."""
        for key in sorted(self.dependents.pop(owner_uid, set())):
            if key in self.objects:
                self.delete(*key)

    # persistence (`--state-file`: the sandbox keeps its objects across restarts)
    def snapshot(self) -> Obj:
        """Every object, the resourceVersion counter and the last-applied configurations, as JSON data."""
        return {
            "revision": self.revision,
            "objects": [[*key, obj] for key, obj in self.objects.items()],
            "applied": [[uid, manager, obj] for (uid, manager), obj in self.applied.items()],
        }

    def restore(self, data: Obj) -> None:
        """Replace everything with a :meth:`snapshot`; watch history starts afresh after it (a watch
        from an older resourceVersion gets 410 Gone and re-lists, as after an API server restart)."""
        self.objects.clear()
        self.by_resource.clear()
        self.dependents.clear()
        self.history.clear()
        for resource, namespace, name, obj in data["objects"]:
            key = (resource, namespace, name)
            self.objects[key] = obj
            self.by_resource.setdefault(resource, set()).add(key)
            self._index(key, obj, None)
        self.applied = {(uid, manager): obj for uid, manager, obj in data.get("applied", [])}
        self.revision = max(int(data["revision"]), self.revision)

    # watches
    def oldest_revision(self) -> int:
        """The oldest resourceVersion a watch can still start from."""
        return self.history[0].resource_version - 1 if self.history else self.revision

    def events_since(self, resource_version: int) -> list[Event] | None:
        """Events after resource_version, or None when history no longer reaches back that far."""
        if resource_version < self.oldest_revision():
            return None
        return [e for e in self.history if e.resource_version > resource_version]


def _spec_of(obj: Obj) -> str:
    return json.dumps(
        {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")},
        sort_keys=True,
    )


def _comparable(obj: Obj) -> str:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return json.dumps({**obj, "metadata": meta}, sort_keys=True)
