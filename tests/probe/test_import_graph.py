"""No module of planner/probe imports one that imports it back, directly or through others.

The graph is read with `ast` from the source (every import statement, including those inside
functions, which only postpone a circle), over the whole `planner` package, so a circle through a
module outside planner/probe counts too. `import planner.probe.x` implicitly runs the package's
`__init__` first; that is Python's doing, not an edge, so only explicit imports are edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

import planner

ROOT = Path(planner.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The planner modules `path` imports explicitly (a `from pkg import name` of a submodule counts as it)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, known) for p in paths}


def cycles_through(graph: dict[str, set[str]], prefix: str) -> list[list[str]]:
    """One path back to itself for each module under `prefix` that can reach itself."""
    found = []
    for start in sorted(m for m in graph if m == prefix or m.startswith(prefix + ".")):
        stack, parents = [start], {start: None}
        while stack:
            node = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    path = [node]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    found.append([start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start])
                    stack.clear()
                    break
                if nxt not in parents:
                    parents[nxt] = node
                    stack.append(nxt)
    return found


def test_the_graph_is_read():
    graph = import_graph()
    # The edges this test exists for: both clients import the base; the factory imports both.
    assert "planner.probe.clients" in graph["planner.probe.openai_client"]
    assert "planner.probe.clients" in graph["planner.probe.ollama_client"]
    assert {"planner.probe.openai_client", "planner.probe.ollama_client"} <= graph["planner.probe.factory"]


def test_a_circle_is_detected():
    graph = {"planner.probe.a": {"planner.probe.b"}, "planner.probe.b": {"planner.probe.a"}, "planner.x": set()}
    assert cycles_through(graph, "planner.probe")


def test_no_probe_module_imports_one_that_imports_it_back():
    circles = cycles_through(import_graph(), "planner.probe")
    assert not circles, "import circles: " + "; ".join(" → ".join(c) for c in circles)
