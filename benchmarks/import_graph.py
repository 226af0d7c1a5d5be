"""The shape of `app`'s import graph: modules, import edges, circles between modules, and circles
between packages (`app.<top>`, or `app.domain|adapters.<name>`), the latter counted twice: with
each resource's `routes.py` in its package, and in the HTTP layer as DESIGN.md places it.

    python -m benchmarks.import_graph [--root app]

Every import counts, those under `TYPE_CHECKING` and inside functions too (grimp's graph)."""

from __future__ import annotations

import argparse
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import grimp


def strongly_connected(nodes: Iterable[str], edges: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is deep enough to matter)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


def package_of(module: str, routes_in_http: bool) -> str:
    parts = module.split(".")
    if (
        routes_in_http
        and parts[-1] == "routes"
        and len(parts) > 2
        and parts[1] in ("domain", "tasks")
    ):
        return f"{parts[0]}.api"
    if len(parts) >= 3 and parts[1] in ("domain", "adapters"):
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def circles(
    modules: list[str], edges: list[tuple[str, str]], group: Callable[[str], str]
) -> list[set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for importer, imported in edges:
        if group(importer) != group(imported):
            graph[group(importer)].add(group(imported))
    nodes = sorted({group(module) for module in modules})
    return [c for c in strongly_connected(nodes, graph) if len(c) > 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="app")
    args = parser.parse_args()
    graph = grimp.build_graph(args.root, include_external_packages=False)
    modules = sorted(graph.modules)
    edges = [(a, b) for a in modules for b in graph.find_modules_directly_imported_by(a)]
    module_graph: dict[str, set[str]] = defaultdict(set)
    for importer, imported in edges:
        module_graph[importer].add(imported)
    module_circles = [c for c in strongly_connected(modules, module_graph) if len(c) > 1]
    print(f"modules {len(modules)}, import edges {len(edges)}")
    print(
        f"circles between modules: {len(module_circles)}, "
        f"the biggest of {max((len(c) for c in module_circles), default=0)} modules"
    )
    for routes_in_http in (True, False):
        where = "in the HTTP layer" if routes_in_http else "in their packages"
        found = circles(
            modules, edges, functools.partial(package_of, routes_in_http=routes_in_http)
        )
        packages = len({package_of(m, routes_in_http) for m in modules})
        print(
            f"circles between {packages} packages, routes.py {where}: {len(found)}"
            + "".join(f"\n  {sorted(c)}" for c in found)
        )


if __name__ == "__main__":
    main()
