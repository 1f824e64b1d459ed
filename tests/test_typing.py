"""Typing: the package passes ``mypy --strict`` and ``_core.pyi`` describes the compiled module exactly.

The mypy settings (strict, Python 3.10, the third-party modules without stubs) live in pyproject.toml's
``[tool.mypy]``, so ``mypy`` run by hand from the repository root checks the same thing as these tests.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path

import ferronet._core as core
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "ferronet"
STUB = PACKAGE / "_core.pyi"

needs_mypy = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install mypy)"
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # MYPYPATH puts the source tree first, so stubtest compares this checkout's stub, not an installed copy.
    env = {**os.environ, "MYPYPATH": str(ROOT / "python")}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@needs_mypy
def test_package_passes_mypy_strict():
    result = _run("-m", "mypy", "--strict", "python/ferronet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


@needs_mypy
def test_stub_matches_the_compiled_module_per_stubtest():
    """mypy's stubtest imports ``ferronet._core`` and compares every name, parameter and default with the stub."""
    result = _run("-m", "mypy.stubtest", "ferronet._core", "--mypy-config-file", "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr


def _stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))


def _public(names: object) -> set[str]:
    return {name for name in names if not name.startswith("_")}


def _stub_members(body: list[ast.stmt]) -> dict[str, ast.AST]:
    """Names a stub block defines (functions, classes, annotated or assigned names)."""
    members: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            members[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            members[node.target.id] = node
        elif isinstance(node, ast.Assign):
            members.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
    return members


def test_stub_names_every_export_of_the_compiled_module():
    stub = _stub_members(_stub_tree().body)
    exported = _public(dir(core))
    assert exported, "ferronet._core exports nothing: the extension did not load as expected"
    assert exported - _public(stub) == set(), "exported by ferronet._core but missing from _core.pyi"
    assert _public(stub) - exported == set(), "declared in _core.pyi but not exported by ferronet._core"


def test_stub_all_matches_the_runtime_all():
    stub_all = _stub_members(_stub_tree().body)["__all__"]
    assert isinstance(stub_all, ast.Assign)
    assert sorted(ast.literal_eval(stub_all.value)) == sorted(core.__all__)


@pytest.mark.parametrize("class_name", ["Model", "Dataset", "ChunkReport"])
def test_stub_classes_name_every_runtime_member(class_name):
    stub_class = _stub_members(_stub_tree().body)[class_name]
    assert isinstance(stub_class, ast.ClassDef)
    stub = _stub_members(stub_class.body)
    runtime_class = getattr(core, class_name)
    runtime = _public(dir(runtime_class)) - _public(dir(object))
    assert runtime - _public(stub) == set(), f"members of {class_name} missing from _core.pyi"
    assert _public(stub) - runtime == set(), f"members of {class_name} in _core.pyi but not at runtime"
    # Getters are properties in the stub, methods are plain functions.
    for name in runtime:
        is_getter = inspect.isgetsetdescriptor(inspect.getattr_static(runtime_class, name))
        decorators = {d.id for d in getattr(stub[name], "decorator_list", []) if isinstance(d, ast.Name)}
        assert ("property" in decorators) == is_getter, f"{class_name}.{name}: property in one, method in the other"


def test_package_ships_the_typing_marker_and_stub():
    assert (PACKAGE / "py.typed").is_file()
    assert STUB.is_file()
