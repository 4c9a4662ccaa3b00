"""The house's plan, checked: no import cycle between modules (lazy imports included, so a
cycle cannot hide inside a function), a small root, and a README whose architecture section
names functions that exist. The layers themselves are import-linter's contract
(pyproject.toml), run by `make check` and `make test`."""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
MAX_ROOT_MODULES = 10


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("server", exclude_type_checking_imports=True)
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    try:
        graphlib.TopologicalSorter(imports).prepare()
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None


def test_the_root_of_server_holds_only_the_wiring() -> None:
    modules = sorted(p.name for p in (ROOT / "server").glob("*.py"))
    assert len(modules) <= MAX_ROOT_MODULES, modules


def _readme_hops() -> list[tuple[str, str]]:
    """The `file:function` pairs of the README's "path of one pickup"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The path of one pickup", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`(server/[\w/]+\.py):([\w.]+)`", section)


def _defines(path: Path, dotted: str) -> bool:
    """Whether the module at `path` defines `dotted` (a function, or Class.method)."""
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for name in dotted.split("."):
        found = next(
            (
                node
                for node in scope
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == name
            ),
            None,
        )
        if found is None:
            return False
        scope = found.body
    return True


def test_the_readme_names_functions_that_exist() -> None:
    hops = _readme_hops()
    assert len(hops) >= 8, "the README's path of one pickup lists its hops"
    missing = [
        f"{file}:{name}"
        for file, name in hops
        if not (ROOT / file).exists() or not _defines(ROOT / file, name)
    ]
    assert not missing, f"the README names functions that do not exist: {missing}"


SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "bindparam", "case"}


def test_handlers_do_not_build_sql() -> None:
    """SQL lives beside its feature (queries.py, writes.py), not in server/web/."""
    builders = []
    for path in sorted((ROOT / "server" / "web").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[0] in {"sqlalchemy", "sqlmodel"}
                and any(alias.name in SQL_BUILDERS for alias in node.names)
            ):
                builders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not builders, f"SQL built in web handlers: {builders}"
