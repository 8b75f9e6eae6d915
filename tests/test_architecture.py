"""The import rules of docs/architecture.md, read from the source with `ast` (every import,
function-level ones included, since those are how a circle hides):

- `pulseboard/` is the ground: none of its modules imports producers, consumers or web,
  except the command line on top of everything: `pulseboard/cli.py` and the commands that
  put stages together, `pulseboard/commands/`;
- nothing imports `pulseboard.cli`, and only the command line imports `pulseboard.commands`
  (the tests of the commands aside);
- producers import neither consumers nor web; consumers import neither producers nor web
  (the publishing edge lives in the ground); web imports neither producers nor consumers;
- the shipped packages import neither tests nor benchmarks;
- no module imports itself back through others (no import circle).

The expectations are written out by hand here, not derived from the code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("pulseboard", "producers", "consumers", "web")
SCANNED = (*SHIPPED, "benchmarks")
CLI = "pulseboard.cli"
COMMANDS = "pulseboard.commands"


def _command_line(module: str) -> bool:
    return module in (CLI, COMMANDS) or module.startswith(COMMANDS + ".")


# What each shipped package may import of the others (the CLI aside, see above).
MAY_IMPORT: dict[str, set[str]] = {
    "pulseboard": {"pulseboard"},
    "producers": {"pulseboard", "producers"},
    "consumers": {"pulseboard", "consumers"},
    "web": {"pulseboard", "web"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "node_modules" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imports(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules `name` imports (`from a import b` counts as a.b when a.b is a
    module, else as a)."""
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # `import a.b.c` names a module; keep the longest prefix that is one of ours.
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts and ".".join(parts) != name:
                out.add(".".join(parts))
            elif target.split(".")[0] in ("tests", "benchmarks", *SHIPPED):
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: _imports(name, path.read_text(), path.name == "__init__.py", known)
        for name, path in modules.items()
    }


def _top(module: str) -> str:
    return module.split(".")[0]


def test_nothing_imports_the_cli():
    importers = sorted(m for m, deps in _graph().items() if CLI in deps)
    assert importers == []


def test_only_the_command_line_imports_the_commands():
    importers = sorted(
        f"{m} imports {d}"
        for m, deps in _graph().items()
        if not _command_line(m)
        for d in deps
        if _command_line(d)
    )
    assert importers == []


def test_each_package_imports_only_what_it_may():
    wrong = []
    for module, deps in _graph().items():
        top = _top(module)
        if top not in MAY_IMPORT or _command_line(module):
            continue
        for dep in deps:
            if _top(dep) in MAY_IMPORT[top]:
                continue
            wrong.append(f"{module} imports {dep}")
    assert sorted(wrong) == []


def test_shipped_code_imports_no_test_or_benchmark_code():
    leaks = [
        f"{module} imports {dep}"
        for module, deps in _graph().items()
        if _top(module) in SHIPPED
        for dep in deps
        if _top(dep) in ("tests", "benchmarks", "conftest")
    ]
    assert leaks == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_circle_between_packages():
    edges: dict[str, set[str]] = {}
    for module, deps in _graph().items():
        source = CLI if _command_line(module) else _top(module)
        for dep in deps:
            target = CLI if _command_line(dep) else _top(dep)
            if target != source:
                edges.setdefault(source, set()).add(target)
        edges.setdefault(source, set())
    assert _cycles(edges) == []


def test_the_scanner_sees_imports_of_every_kind():
    """The checks above pass vacuously if the scanner misses imports: a hand-written case."""
    known = {"pulseboard.cli", "pulseboard.config", "web", "web.command"}
    source = (
        "import pulseboard.config\n"
        "def f():\n"
        "    from pulseboard.cli import main\n"
        "    from web import command\n"
        "    from . import config\n"
    )
    found = _imports("pulseboard.probe", source, False, known)
    assert found == {"pulseboard.config", "pulseboard.cli", "web.command"}


def test_no_test_module_imports_another():
    """Shared test code lives in tests/support.py (and the other non-test modules there);
    fixtures in conftest.py, which pytest loads itself."""
    wrong = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            wrong += [
                f"{path.name} imports {name}"
                for name in names
                if name.split(".")[0].startswith("test_") or name.split(".")[0] == "conftest"
            ]
    assert wrong == []
