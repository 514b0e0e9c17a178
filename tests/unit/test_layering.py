"""The package's import graph points one way (ARCHITECTURE.md, "Layering") and has no cycles.

Every import counts, including the ones inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "edgeinpaint"

#: Layer of each top-level part of the package; a module may import only its own layer or lower ones.
LAYERS = {
    "core": 0,
    "canny": 1,
    "models": 1,
    "weights": 1,
    "trainer": 2,
    "export": 3,
    "calibration": 3,
    "runtime": 4,
    "benchmarks": 5,
    "serving": 5,
    "executors": 5,
    "diagnostics": 5,
    "api": 5,
    "cli": 6,
    "__init__": 7,  # the package's face: re-exports the Python API (lazily)
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every edgeinpaint module ``path`` imports (absolute names; ``from pkg import mod`` resolved)."""
    tree = ast.parse(path.read_text())
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("edgeinpaint"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edgeinpaint"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known)
    return {m for m in found if m in known}


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in LAYERS:
        pytest.fail(f"{module}: part {top!r} has no layer; add it to LAYERS and ARCHITECTURE.md")
    return LAYERS[top]


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
        for src, targets in graph().items()
        for dst in sorted(targets)
        if layer_of(dst) > layer_of(src)
    ]
    assert not upward, "\n".join(upward)


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    return cycles


def test_import_graph_has_no_cycles() -> None:
    edges = graph()
    # A module importing its own package (``from edgeinpaint.core import specs``) names the package
    # only to reach the submodule: that edge is not a dependency on the package's __init__.
    for src in edges:
        edges[src] = {d for d in edges[src] if d != src and not src.startswith(d + ".")}
    cycles = find_cycles(edges)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_catch_what_they_claim(tmp_path: Path) -> None:
    """The detectors themselves: an upward edge and a cycle in a made-up graph are reported."""
    assert layer_of("edgeinpaint.core.specs") < layer_of("edgeinpaint.runtime.workers")
    fake = tmp_path / "m.py"
    fake.write_text("from edgeinpaint.runtime import workers\nimport edgeinpaint.core.specs\n")
    assert imports(fake) == {"edgeinpaint.runtime", "edgeinpaint.runtime.workers", "edgeinpaint.core.specs"}
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


#: Where a picture's recipe is decided: the recipe itself, the HD strategy it calls, and the opener that
#: picks the three-stage or the fused recipe. The exporter builds the fused model (not a user of recipes).
DECIDES_THE_RECIPE = {"runtime/recipe.py", "runtime/hd.py", "runtime/inpainter.py"}
RECIPE_USERS = ("runtime", "serving", "executors", "benchmarks", "diagnostics", "cli.py", "api.py")


def recipe_branches(path: Path, root: Path = PACKAGE) -> list[str]:
    """Conditions in ``path`` that ask "fused?" or "does the HD strategy apply?" (attribute ``fused`` /
    ``kind`` / ``uint8_io``, a call to ``applies``, ``isinstance`` against a recipe class)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        tests = []
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            tests.append(node.test)
        elif isinstance(node, ast.comprehension):
            tests.extend(node.ifs)
        for test in tests:
            for sub in ast.walk(test):
                dtype = (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Attribute)
                    and sub.value.attr == "dtype"
                )
                asks = (
                    isinstance(sub, ast.Attribute)
                    and sub.attr in ("fused", "kind", "uint8_io", "applies")
                    and not dtype
                ) or (isinstance(sub, ast.Name) and sub.id in ("Fused", "ThreeStage"))
                if asks:
                    found.append(f"{path.relative_to(root)}:{sub.lineno}")
    return found


def test_only_the_recipe_branches_on_fused_or_hd() -> None:
    users = [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if str(p.relative_to(PACKAGE)).startswith(RECIPE_USERS)
        and str(p.relative_to(PACKAGE)) not in DECIDES_THE_RECIPE
    ]
    assert len(users) > 20  # the rule looks at the real callers
    offenders = [hit for p in users for hit in recipe_branches(p)]
    assert offenders == [], f"decide fused/HD inside runtime/recipe.py, not in callers: {offenders}"


def test_recipe_branch_check_sees_a_branch(tmp_path: Path) -> None:
    sample = tmp_path / "caller.py"
    sample.write_text("def f(r, p, h):\n    return r(p, h) if r.hd.applies(*h.shape) or r.fused else None\n")
    assert recipe_branches(sample, tmp_path) == ["caller.py:2", "caller.py:2"]
