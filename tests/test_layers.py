"""The house in layers: imports run one way, from a layer to the ones below it, and never in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import planner

ROOT = Path(planner.__file__).parent

# Lowest first. A module may import its own layer and the layers below; peers of one rank do not import
# each other (a face does not lean on another face, except the PDF, which shows the deployment files).
LAYERS = {
    "errors": 0, "units": 0, "findings": 0, "cli_args": 0, "runtime": 0,
    "catalog": 1,
    "estimate": 2,
    "finetune": 3,
    "plan": 4,
    "charts": 5, "probe": 5, "monitor": 5, "quality": 5,
    "deploy": 6,  # its files include the monitor's alert rules and dashboard
    "report": 7,
    "cli": 8,
    "__init__": 9, "__main__": 10,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    name = ".".join(("planner", *parts))
    return name.removesuffix(".__init__")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("planner"):
                base = node.module
                for alias in node.names:  # `from planner.charts import plan` imports a module
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("planner")}
        out[name] = {t for t in targets if t in modules and t != name}
    return out


def test_every_package_has_a_known_layer():
    unknown = {_layer(m) for m in _imports()} - set(LAYERS)
    assert not unknown, f"give these a layer in LAYERS: {unknown}"


def test_imports_run_down_the_layers():
    upward = []
    for module, targets in _imports().items():
        for target in targets:
            a, b = _layer(module), _layer(target)
            if a != b and LAYERS[b] >= LAYERS[a]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports from a layer at or above: " + "; ".join(sorted(upward))


def test_no_import_circle():
    graph = _imports()  # planner.probe included: its clients circle is broken (tests/probe/test_import_graph.py)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend(path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt])
                return True
            if nxt not in state and visit(nxt, path + [node]):
                return True
        state[node] = 2
        return False

    for start in sorted(graph):
        if start not in state and visit(start, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, f"split these: {long}"


def test_the_grid_never_sees_the_constraints():
    """Constraints are reduced at the door (planner.plan.workload); the grid takes a Workload and Filters."""
    grid = (ROOT / "plan" / "grid.py").read_text(encoding="utf-8")
    assert "Constraints" not in grid


def test_the_front_ends_keep_freed_memory_and_the_core_does_not_touch_the_allocator():
    """planner.runtime tunes glibc's allocator for the process; only front ends call it."""
    import subprocess
    import sys

    from planner.runtime import keep_freed_memory

    assert isinstance(keep_freed_memory(), bool)
    callers = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py") if "keep_freed_memory()" in p.read_text()}
    assert callers <= {"cli/main.py", "runtime.py"}
    out = subprocess.run([sys.executable, "-c", "import planner.plan.recommend, sys; print('planner.runtime' in sys.modules)"],
                         capture_output=True, text=True, cwd=ROOT.parent, check=True)
    assert out.stdout.strip() == "False"
