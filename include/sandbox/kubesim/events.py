"""The event recorder the controllers and the kubelet share: v1 Events, correlated as client-go's
recorder correlates them (k8s.io/client-go/tools/record/events_cache.go).

- A repeat of an event (same source, object, field path, type, reason and message) bumps ``count`` and
  ``lastTimestamp`` of the one Event instead of writing another.
- Similar events (same source, object, type and reason, other messages: a controller naming a new pod
  in every ``Error creating: ...``) are aggregated: from the 10th distinct message within 10 minutes on,
  one Event with the message ``(combined from similar events): <latest message>`` is counted up.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from kubesim.clock import Clock
from kubesim.store import Store

Obj = dict[str, Any]
AGGREGATE_MAX = 10  # distinct messages before similar events are combined
AGGREGATE_INTERVAL = 600.0  # seconds a run of similar events is remembered
COMBINED = "(combined from similar events): "


@dataclass
class _Similar:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


class EventRecorder:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._events: dict[tuple[str, ...], tuple[str, str]] = {}  # event key -> (namespace, name)
        self._similar: dict[tuple[str, ...], _Similar] = {}

    def record(
        self,
        obj: Obj,
        kind: str,
        type_: str,
        reason: str,
        message: str,
        component: str,
        *,
        field_path: str = "",
        host: str = "",
    ) -> None:
        meta = obj["metadata"]
        similar_key: tuple[str, ...] = (component, host, meta["uid"], type_, reason)
        key: tuple[str, ...] = (*similar_key, field_path, message)
        if self._combine(similar_key, message):
            key, message = similar_key, COMBINED + message
        if not self._repeat(key, message):
            self._create(obj, kind, type_, reason, message, component, field_path, host, key)

    def _combine(self, similar_key: tuple[str, ...], message: str) -> bool:
        """Whether this event joins its similar ones in a combined event (EventAggregator)."""
        now = self.clock.seconds()
        if len(self._similar) > 100_000:
            self._similar.clear()
        similar = self._similar.get(similar_key)
        if similar is None or now - similar.last > AGGREGATE_INTERVAL:
            similar = self._similar[similar_key] = _Similar()
        similar.messages.add(message)
        similar.last = now
        if len(similar.messages) < AGGREGATE_MAX:
            return False
        similar.messages.discard(message)  # the set grows no larger
        return True

    def _repeat(self, key: tuple[str, ...], message: str) -> bool:
        """Count up the Event recorded under ``key`` (True), if there is one (EventLogger)."""
        known = self._events.get(key)
        event = self.store.find("/events", *known) if known else None
        if event is None:
            return False
        event = copy.deepcopy(event)
        event["count"] = event.get("count", 1) + 1
        event["lastTimestamp"] = self.clock.iso()
        event["message"] = message
        event["metadata"].pop("resourceVersion", None)
        self.store.update("/events", event["metadata"]["namespace"], event)
        return True

    def _create(
        self,
        obj: Obj,
        kind: str,
        type_: str,
        reason: str,
        message: str,
        component: str,
        field_path: str,
        host: str,
        key: tuple[str, ...],
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"  # events about cluster objects go to default
        involved = {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": kind,
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta["uid"],
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            involved["fieldPath"] = field_path
        now = self.clock.iso()
        name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        self.store.create(
            "/events",
            namespace,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": type_,
                "count": 1,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "source": {"component": component, **({"host": host} if host else {})},
                "reportingComponent": component,
                "reportingInstance": host,
            },
        )
        self._events[key] = (namespace, name)
