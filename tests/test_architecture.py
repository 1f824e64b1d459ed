"""The rules of docs/architecture.md that a machine can check: no import cycle among the package's modules (nor
among the engine's Rust modules), PyO3 only in rust/py, and no file of the project citing a path outside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "ferronet"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:``: they name a type for the checker, nothing is loaded."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            inside |= {id(child) for statement in node.body for child in ast.walk(statement)}
    return inside


def _python_imports() -> dict[str, set[str]]:
    """Module → the package modules it imports (anywhere in the file: a lazy import inside a function is still a
    dependency; a type-only import under TYPE_CHECKING is not)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        type_only = _type_checking_blocks(tree)
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]], ignore: set[tuple[str, str]] = frozenset()) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "active"
        for child in sorted(graph.get(node, ())):
            if (node, child) in ignore:
                continue
            if state.get(child) == "active":
                found.append([*path[path.index(child) :], child])
            elif child not in state:
                visit(child, [*path, child])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_in_the_package():
    graph = _python_imports()
    # A package's __init__ re-exports its modules; a module importing its own package (e.g. `from . import x`
    # inside ferronet.datasets) is an edge to that __init__, which is how Python packages work, not a cycle of
    # our making. Those edges are left out: every other cycle is a design error.
    package_edges = {(module, package) for module in graph for package in graph if module.startswith(package + ".")}
    assert _cycles(graph, ignore=package_edges) == []


def _rust_uses() -> dict[str, set[str]]:
    """Rust module (file) → the crate modules it uses (`use crate::a::b` and `crate::a::b::` paths)."""
    files = {p.relative_to(ROOT / "rust").with_suffix("").as_posix(): p for p in (ROOT / "rust").rglob("*.rs")}
    names = {key.removesuffix("/mod").replace("/", "::"): path for key, path in files.items() if key != "lib"}
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        text = re.sub(r"#\[cfg\(test\)\].*", "", path.read_text(), flags=re.S)  # tests may use anything
        text = re.sub(r"//.*", "", text)  # comments name modules without depending on them
        for match in re.finditer(r"crate::((?:\w+::)*\w+)", text):
            parts = match.group(1).split("::")
            for end in range(len(parts), 0, -1):
                candidate = "::".join(parts[:end])
                if candidate in names:
                    if candidate != name and not name.startswith(candidate + "::"):
                        graph[name].add(candidate)
                    break
    return graph


def test_no_use_cycle_in_the_engine():
    graph = _rust_uses()
    # a parent module re-exports its children (`pub use`): the same package edge as in Python
    package_edges = {(module, parent) for module in graph for parent in graph if module.startswith(parent + "::")}
    package_edges |= {(parent, module) for module, parent in package_edges}
    assert _cycles(graph, ignore=package_edges) == []


def test_pyo3_lives_in_rust_py_only():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "rust").rglob("*.rs")
        if "py" not in path.relative_to(ROOT / "rust").parts[:1] and re.search(r"\bpyo3\b|\bnumpy::", path.read_text())
    ]
    assert offenders == []


def test_no_file_cites_a_path_outside_the_repository():
    pattern = re.compile(r"\.\./shared|shared/(FACTS|API|DESIGN)\.md|\b(FACTS|DESIGN)\.md\b|\bAPI\.md\b")
    suffixes = {".py", ".rs", ".md", ".toml", ".pyi", ".yaml", ".yml", ".cfg", ".txt", ".ipynb"}
    skip = {"target", ".git", ".hypothesis", ".pytest_cache", ".ruff_cache", "node_modules"}
    offenders = [
        f"{path.relative_to(ROOT)}:{line_number}"
        for path in ROOT.rglob("*")
        if path.is_file() and path.suffix in suffixes and not skip & set(path.relative_to(ROOT).parts)
        and path.name != Path(__file__).name
        for line_number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if pattern.search(line)
    ]  # fmt: skip
    assert offenders == []
