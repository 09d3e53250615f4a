"""Dependency order of a release's services: cycles, topological order, the closure of a selection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def find_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """A dependency cycle as ``[a, b, c, a]`` (a depends on b ... c on a), or ``[]``.

    Names that appear only as dependencies are leaves. Deterministic: services are visited in the
    mapping's order, dependencies in list order.
    """
    white, grey, black = 0, 1, 2
    color: dict[str, int] = {}
    for root in depends_on:
        if color.get(root, white) != white:
            continue
        # iterative DFS: (node, iterator over its dependencies); the stack is the current path
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(depends_on.get(root, ())))]
        color[root] = grey
        while stack:
            node, deps = stack[-1]
            advanced = False
            for dep in deps:
                state = color.get(dep, white)
                if state == grey:
                    path = [name for name, _ in stack]
                    return [*path[path.index(dep) :], dep]
                if state == white:
                    color[dep] = grey
                    stack.append((dep, iter(depends_on.get(dep, ()))))
                    advanced = True
                    break
            if not advanced:
                color[node] = black
                stack.pop()
    return []


def topological_order(depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """Services so that each comes after its dependencies; ties keep the mapping's order (Kahn).

    Raises ValueError on a cycle (the spec validation reports cycles before this is reached).
    """
    remaining = {name: [d for d in deps if d in depends_on] for name, deps in depends_on.items()}
    order: list[str] = []
    done: set[str] = set()
    while remaining:
        ready = [name for name, deps in remaining.items() if all(d in done for d in deps)]
        if not ready:
            raise ValueError("dependency cycle: " + " -> ".join(find_cycle(remaining)))
        for name in ready:
            order.append(name)
            done.add(name)
            del remaining[name]
    return order


def with_dependencies(selected: Iterable[str], depends_on: Mapping[str, Sequence[str]]) -> set[str]:
    """``selected`` plus everything it depends on, transitively."""
    result: set[str] = set()
    pending = list(selected)
    while pending:
        name = pending.pop()
        if name not in result:
            result.add(name)
            pending.extend(depends_on.get(name, ()))
    return result
