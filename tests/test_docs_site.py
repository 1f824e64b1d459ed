"""The documentation site: every public module has an API reference page in the navigation, and, where mkdocs is
installed (``pip install ".[docs]"``), ``mkdocs build --strict`` passes: a docstring that documents a parameter the
signature lacks, or a broken link, fails it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_docstrings import PUBLIC_MODULES

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
CONFIG = ROOT / "mkdocs.yml"


def _documented_modules() -> dict[str, Path]:
    """Module -> the reference page that renders it with a ``::: module`` block."""
    pages: dict[str, Path] = {}
    for page in REFERENCE.glob("*.md"):
        for match in re.finditer(r"^::: ([\w.]+)$", page.read_text(encoding="utf-8"), re.MULTILINE):
            pages[match[1]] = page
    return pages


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_module_has_a_reference_page_in_the_navigation(module):
    pages = _documented_modules()
    assert module in pages, f"no page in docs/reference/ has '::: {module}'"
    nav_entry = f"reference/{pages[module].name}"
    assert nav_entry in CONFIG.read_text(encoding="utf-8"), f"{nav_entry} is not in mkdocs.yml's nav"


def test_the_readme_sections_the_site_includes_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in re.findall(r'--8<-- "README\.md:(\w+)"', (ROOT / "docs" / "index.md").read_text(encoding="utf-8")):
        assert f"--8<-- [start:{name}]" in readme and f"--8<-- [end:{name}]" in readme, name


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None,
    reason='mkdocs and mkdocstrings are not installed (pip install ".[docs]")',
)
def test_mkdocs_build_strict_passes(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    model_page = (site / "reference" / "model" / "index.html").read_text(encoding="utf-8")
    assert 'id="ferronet.model.Sequential.fit"' in model_page
    assert "validation_split" in model_page
    getting_started = (site / "index.html").read_text(encoding="utf-8")
    assert "Quickstart" in getting_started
