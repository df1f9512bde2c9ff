"""The product's imports run one way: no circle in the module import graph of backend/, workers/ and nodepacks/.

grimp (import-linter's graph library) reads every import, those inside functions and under ``TYPE_CHECKING``
included: an import moved into a function still ties two modules together, so it counts. Test modules
(``tests`` packages, ``conftest``) are left out: they may import anything. import-linter's own ``acyclic_siblings``
contract is not used: it squashes each package into one node, so Django apps that know each other's modules (runs
and accounts, each importing a different module of the other) count as a circle though no module imports itself
back; the layer and forbidden-import contracts stay in pyproject.toml (``make lint``).

A circle fails the test with its path, an import per hop (module, line, source).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp
import pytest

PACKAGES = ("backend", "workers", "nodepacks")

# Circles known and being broken right now, each by the modules it may span (a circle inside them passes; one
# that reaches further, or any other circle, fails). An entry no circle needs any more fails too, so the list
# only shrinks.
ALLOWED: dict[str, frozenset[str]] = {}

Graph = Mapping[str, Iterable[str]]


def is_test_module(module: str) -> bool:
    parts = module.split(".")
    return "tests" in parts or parts[-1] == "conftest" or parts[-1].startswith("test_")


def strongly_connected_components(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm without recursion (the graph is deeper than Python's stack): every component, each
    sorted, in the order they close."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        while work:
            node, successors = work[-1]
            if successors:
                nxt = successors.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def circles(graph: Graph) -> list[list[str]]:
    """The components that hold a circle: two or more modules, or one that imports itself."""
    return [c for c in strongly_connected_components(graph) if len(c) > 1 or c[0] in set(graph.get(c[0], ()))]


def one_cycle(graph: Graph, component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, staying inside the component: [a, b, ..., a]."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{component} holds no circle")  # pragma: no cover: a component of circles() does


@pytest.fixture(scope="module")
def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)  # no cache folder left in the checkout


def product_graph(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {
        module: {i for i in graph.find_modules_directly_imported_by(module) if not is_test_module(i)}
        for module in graph.modules
        if not is_test_module(module)
    }


def describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    lines = [" -> ".join(cycle)]
    for importer, imported in zip(cycle, cycle[1:], strict=False):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = "; ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details[:3])
        lines.append(f"    {importer} -> {imported}: {where}")
    return "\n".join(lines)


def test_the_product_import_graph_has_no_circle(import_graph: grimp.ImportGraph) -> None:
    graph = product_graph(import_graph)
    assert "backend.runs.models" in graph and "nodepacks.sdk" in graph  # the graph is the product's
    found = circles(graph)
    unexpected = [c for c in found if not any(set(c) <= allowed for allowed in ALLOWED.values())]
    message = "\n\n".join(describe(import_graph, one_cycle(graph, c)) for c in unexpected)
    assert not unexpected, (
        f"{len(unexpected)} import circle(s) in the product code (break them; an import inside a function "
        f"still counts):\n\n{message}"
    )
    stale = [name for name, allowed in ALLOWED.items() if not any(set(c) <= allowed for c in found)]
    assert not stale, f"no circle needs these ALLOWED entries any more; delete them: {stale}"


def test_the_checker_finds_a_circle_and_prints_it() -> None:
    # a -> b -> c -> a, c -> d, e -> e: two circles; d alone is none.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert sorted(circles(graph)) == [["a", "b", "c"], ["e"]]
    assert one_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert one_cycle(graph, ["e"]) == ["e", "e"]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_test_modules_are_left_out() -> None:
    assert is_test_module("backend.runs.tests.test_api")
    assert is_test_module("backend.conftest")
    assert is_test_module("nodepacks.diffusion.tests")
    assert not is_test_module("backend.runs.testing_helpers")
    assert not is_test_module("nodepacks.diffusion.testing")
