"""Repository consistency: CI runs the README's test command, every YAML is used, public API is documented."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import speechbrain_interp

REPO = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks[:2] for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_ci_runs_the_readme_test_command():
    commands = readme_commands()
    assert len(commands) == 2, "the README starts with exactly two set-up commands"
    test_command = commands[1]
    assert "pytest" in test_command
    ci = (REPO / ".ci" / "run").read_text()
    assert test_command in ci.splitlines(), f".ci/run must run the README test command: {test_command}"


def _all_text(suffixes=(".py", ".md", ".yaml", ".yml", ".cfg", ".toml", "")):
    texts = []
    for path in REPO.rglob("*"):
        if any(part.startswith(".") or part in ("results", "build") for part in path.relative_to(REPO).parts):
            continue
        if path.is_file() and path.suffix in suffixes and path.stat().st_size < 2_000_000:
            texts.append((path, path.read_text(errors="ignore")))
    return texts


def test_every_yaml_is_used():
    texts = _all_text()
    yamls = [p for p in REPO.rglob("*.yaml")
             if "hparams" in p.parts and not any(part.startswith(".") or part == "results"
                                                 for part in p.relative_to(REPO).parts)]
    assert yamls
    unused = []
    for y in yamls:
        rel = y.relative_to(REPO)
        # used when another file names it (recipes, READMEs, tests, !include of fragments)
        names = {str(rel), y.name, f"hparams/{y.name}"}
        if not any(any(n in text for n in names) for path, text in texts if path != y):
            unused.append(str(rel))
    assert not unused, f"YAML files that nothing refers to: {unused}"


def _public_objects():
    for info in pkgutil.walk_packages(speechbrain_interp.__path__, "speechbrain_interp."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module.__name__:
                yield f"{info.name}.{name}", obj


def test_public_classes_have_runnable_examples():
    """Every public class documents its use in an ``Example`` that runs as a doctest."""
    missing = [name for name, obj in _public_objects()
               if inspect.isclass(obj) and not issubclass(obj, BaseException)
               and ">>>" not in (obj.__doc__ or "") and ">>>" not in (obj.__init__.__doc__ or "")
               and not getattr(obj, "__dataclass_fields__", None)
               and not (issubclass(obj, tuple) and hasattr(obj, "_fields"))]  # records need no example
    assert not missing, f"public classes without a doctested Example: {missing}"


def test_public_api_has_docstrings():
    undocumented = [name for name, obj in _public_objects() if not (obj.__doc__ or "").strip()]
    assert not undocumented, f"public objects without docstrings: {undocumented}"


@pytest.mark.parametrize("path", sorted(str(p.relative_to(REPO)) for p in (REPO / "hparams").glob("*.yaml")))
def test_brick_fragments_are_included_by_a_recipe(path):
    name = Path(path).name
    recipes = "\n".join(p.read_text() for p in (REPO / "recipes").rglob("*.yaml"))
    assert re.search(rf"!include:[^\n]*{re.escape(name)}", recipes), f"no recipe !includes {path}"
