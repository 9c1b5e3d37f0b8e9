"""The documentation builds with warnings as errors (its code blocks run in tests/test_readme.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_documentation_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs tools: pip install -e '.[docs]'")
    pytest.importorskip("myst_parser", reason="the docs tools: pip install -e '.[docs]'")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
                           str(REPO / "docs"), str(tmp_path / "html")], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for page in ("index", "lmac", "l2i", "concepts", "pretrained", "api", "benchmarks"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
    api = (tmp_path / "html" / "api.html").read_text()
    assert "LMAC" in api and "explain_labels" in api  # generated from the docstrings


def test_every_page_is_in_the_table_of_contents():
    index = (REPO / "docs" / "index.md").read_text()
    pages = sorted(p.stem for p in (REPO / "docs").glob("*.md") if p.stem != "index")
    assert [p for p in pages if f"\n{p}\n" not in index] == []
