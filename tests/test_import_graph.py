"""The package's import graph has no cycle.

Every module of ``ambidex_bayes`` is parsed with :mod:`ast`; an arrow ``a -> b`` means that
module ``a`` imports module ``b`` anywhere in its text: at the top, inside a function, under
``if TYPE_CHECKING``, or by name in a registry. Registries count too, so a cycle cannot hide
behind a string:

- a string constant naming a module of the package (``"ambidex_bayes.x.y"`` or
  ``"ambidex_bayes.x.y:function"``) is an import of that module;
- ``importlib.import_module(f"ambidex_bayes.pkg.{name}")`` (a constant prefix followed by a
  computed part) is an import of every module under that prefix.

``from ambidex_bayes.pkg import name`` imports the module ``pkg.name`` when there is one,
else the package ``pkg`` itself. The package ``__init__`` a submodule's import runs on the
way is not an arrow (a package face that re-exports its modules is not a cycle).

Run this file as a script to print the graph's size and its cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "ambidex_bayes"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def package_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _absolute(node: ast.ImportFrom, module: str, modules: dict[str, Path]) -> str:
    """The absolute module named by a (possibly relative) ``from ... import``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module, modules):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its nearest enclosing module of the package, if any."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, modules: dict[str, Path]) -> set[str]:
    """The modules of the package that ``module`` imports (see the module docstring)."""
    tree = ast.parse(modules[module].read_text(encoding="utf-8"), filename=str(modules[module]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, modules)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, modules)
            for alias in node.names:
                target = _known(f"{source}.{alias.name}", modules) or _known(source, modules)
                if target:
                    found.add(target)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.partition(":")[0]
            # the package's bare name is its distribution's (versions, cache folders), not a
            # registry entry; a registry names a module inside it
            if text in modules and text != PACKAGE:
                found.add(text)
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                prefix = head.value
                if (
                    prefix.startswith(f"{PACKAGE}.")
                    and prefix.endswith(".")
                    and len(node.values) > 1
                ):
                    found.update(m for m in modules if m.startswith(prefix))
    found.discard(module)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports."""
    modules = package_modules(root)
    return {module: imports_of(module, modules) for module in modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, each as one cycle.

    Each cycle is given as a path ``a -> b -> ... -> a`` through the component (Tarjan's
    algorithm finds the components; a breadth-first search inside one finds a shortest
    cycle through its first module).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)

    return [_shortest_cycle(graph, component) for component in components]


def _shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    members = set(component)
    start = component[0]
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def _write_package(root: Path, files: dict[str, str]) -> Path:
    package = root / PACKAGE
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


#: A small package whose shortest cycle runs through every kind of arrow: an import inside a
#: function, a "module:function" registry string, a dynamic import by prefix (the modules
#: under it, not the package face), a relative import; ``e`` and the face ``sub`` are caught
#: in the same knot. Imports from outside the package are no arrows.
KNOTTED = {
    "a.py": "def f():\n    from ambidex_bayes import b\n",
    "b.py": 'REGISTRY = ("ambidex_bayes.c:run",)\n',
    "c.py": (
        "import importlib\n\n\ndef run(name):\n"
        '    return importlib.import_module(f"ambidex_bayes.sub.{name}")\n'
    ),
    "sub/__init__.py": "from ambidex_bayes.sub.d import g\n",
    "sub/d.py": "from ..a import f\nfrom ambidex_bayes import e\n\ng = f\n",
    "e.py": "from ambidex_bayes.sub import g\nimport numpy\n",
}


def test_every_kind_of_arrow_is_seen(tmp_path):
    graph = import_graph(_write_package(tmp_path, KNOTTED))
    p = f"{PACKAGE}."
    assert graph[f"{p}a"] == {f"{p}b"}
    assert graph[f"{p}b"] == {f"{p}c"}
    assert graph[f"{p}c"] == {f"{p}sub.d"}
    assert graph[f"{p}sub.d"] == {f"{p}a", f"{p}e"}
    assert graph[f"{p}e"] == {f"{p}sub"}
    assert graph[f"{p}sub"] == {f"{p}sub.d"}
    found = cycles(graph)
    assert found == [[f"{p}a", f"{p}b", f"{p}c", f"{p}sub.d", f"{p}a"]]
    assert describe(found[0], graph) == " -> ".join(found[0]) + f" (with {p}e, {p}sub)"


def test_a_package_without_a_cycle_passes(tmp_path):
    untied = {
        **KNOTTED,
        "b.py": 'NOTE = "ambidex_bayes.c is where the runner lives"\n',  # prose, no registry
        "sub/d.py": "from ..a import f\n\ng = f\n",
    }
    assert cycles(import_graph(_write_package(tmp_path, untied))) == []


def test_the_bare_package_name_is_no_arrow(tmp_path):
    files = {
        "__init__.py": 'TABLE = {"f": "ambidex_bayes.a:f"}\n',  # a front door's registry
        "a.py": 'PACKAGES = ("ambidex_bayes", "numpy")\n',  # distribution names
    }
    graph = import_graph(_write_package(tmp_path, files))
    assert graph == {PACKAGE: {f"{PACKAGE}.a"}, f"{PACKAGE}.a": set()}


def test_the_graph_is_read():
    graph = import_graph()
    assert f"{PACKAGE}.cli" in graph
    assert f"{PACKAGE}.errors" in graph[f"{PACKAGE}.cli"]


def describe(cycle: list[str], graph: dict[str, set[str]]) -> str:
    """One line: the cycle, and the other modules caught in the same knot."""
    knot = sorted(_component_of(cycle[0], graph) - set(cycle))
    also = f" (with {', '.join(knot)})" if knot else ""
    return " -> ".join(cycle) + also


def _component_of(start: str, graph: dict[str, set[str]]) -> set[str]:
    def reach(edges: dict[str, set[str]]) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reverse: dict[str, set[str]] = {node: set() for node in graph}
    for node, targets in graph.items():
        for target in targets:
            reverse[target].add(node)
    return reach(graph) & reach(reverse)


def test_no_import_cycle():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(c, graph) for c in found)


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between the package's top-level units: each subpackage counts as one."""

    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    units: dict[str, set[str]] = {unit(m): set() for m in graph}
    for module, targets in graph.items():
        units[unit(module)] |= {unit(t) for t in targets} - {unit(module)}
    return units


def test_no_cycle_between_top_level_units():
    """Subpackages import each other one way only (a type-checking import counts too)."""
    units = unit_graph(import_graph())
    found = cycles(units)
    assert not found, "cycles between packages:\n" + "\n".join(describe(c, units) for c in found)


def test_a_cycle_between_packages_is_seen(tmp_path):
    root = _write_package(
        tmp_path,
        {
            "a/__init__.py": "",
            "a/x.py": "from ambidex_bayes.b import y\n",
            "b/__init__.py": "",
            "b/y.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ambidex_bayes.a import x\n",
        },
    )
    assert cycles(unit_graph(import_graph(root))) != []


if __name__ == "__main__":
    graph = import_graph()
    units = unit_graph(graph)
    for name, g in (("modules", graph), ("top-level units", units)):
        arrows = sum(len(targets) for targets in g.values())
        print(f"{len(g)} {name}, {arrows} import arrows")
        for cycle in cycles(g):
            print("  cycle:", describe(cycle, g))
