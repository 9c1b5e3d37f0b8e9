"""Every Python snippet of the README and of the documentation runs on a fresh clone, offline,
in an empty folder.

A snippet whose first line is ``# continued`` runs after the one before it (it uses its names).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def snippets(path: Path) -> list[tuple[str, str]]:
    """``[(id, code)]`` for each ```` ```python ```` block, continued blocks joined to their predecessor."""
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    out = []
    for i, code in enumerate(blocks, 1):
        if code.startswith("# continued") and out:
            code = out[-1][1] + "\n" + code
        out.append((f"{path.name}:{i}", code))
    return out


ALL = [s for doc in DOCUMENTS for s in snippets(doc)]


def test_the_readme_has_snippets():
    assert sum(name.startswith("README.md") for name, _ in ALL) >= 3
    assert len(ALL) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("name,code", ALL, ids=[n for n, _ in ALL])
def test_snippet_runs_on_a_fresh_clone(name, code, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{name}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
