"""docs/architecture.md's module table is what contributors read before changing a module:
it must name every module and everything each one imports, and the imports, lazy ones
included, must form no cycle."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "smac_bridge"
TABLE = PACKAGE.parent / "docs" / "architecture.md"
DISTRIBUTIONS = {"sklearn": "scikit-learn"}
"""Packages the table names by what users install."""


def _module_of(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imports(tree: ast.AST, own: str) -> set[str]:
    """What a module imports at run time: smac_bridge's modules by name, other packages by
    their top-level name; the standard library and imports for type checkers only left out."""
    found: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "smac_bridge":
                names = [alias.name for alias in node.names if alias.name != "__version__"]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            top = parts[1] if parts[0] == "smac_bridge" and len(parts) > 1 else parts[0]
            if top not in sys.stdlib_module_names and top not in ("__future__", own):
                found.add(DISTRIBUTIONS.get(top, top))
        found |= _imports(node, own)
    return found


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = _module_of(path)
        if module not in ("__init__", "__main__"):
            graph.setdefault(module, set()).update(_imports(ast.parse(path.read_text()), module))
    return graph


def _table() -> dict[str, str]:
    rows = re.findall(r"^\| `(\w+)(?:\.py|/)` \| .* \| (.*) \|$", TABLE.read_text(), re.MULTILINE)
    return dict(rows)


def test_the_table_names_every_module_and_what_it_imports():
    table = _table()
    graph = _import_graph()
    for module, imports in sorted(graph.items()):
        assert module in table, f"docs/architecture.md has no row for {module}"
        named = set(re.findall(r"[\w-]+", table[module]))
        if module != "commands":  # "all", each command loading only what it uses
            assert imports <= named, f"{module} imports {sorted(imports - named)} unnamed"
            stale = (named & set(graph)) - imports
            assert not stale, f"{module}'s row names {sorted(stale)}, which it does not import"


def test_no_import_cycle_lazy_imports_included():
    graph = _import_graph()
    modules = {module for module in graph}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for imported in sorted(graph[module] & modules):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(modules):
        visit(module, [])


def test_the_environment_table_names_every_variable_the_package_names():
    """Every `*_ENV` name in the package is a variable some user or tool sets or reads: the
    table of docs/architecture.md says who sets it and what it means."""
    section = TABLE.read_text().split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(SMAC_BRIDGE_\w+)`", section))
    named = {
        node.value.value
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(isinstance(t, ast.Name) and t.id.endswith("_ENV") for t in node.targets)
    }
    assert len(named) >= 14  # script_env's nine, gpus' three, the tree's, the rungroup's
    assert named <= listed, f"unlisted: {sorted(named - listed)}"
