"""The package's shape: no import cycles, imports go down the layers, modules stay small.

The import graph is read from the source with ``ast``: every ``import`` and ``from ... import``
of a ``speechbrain_interp`` module, at module level and inside functions alike (a lazy import
still couples two modules). The layers are the ones ``CONTRIBUTING.md`` describes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "speechbrain_interp"
MAX_LINES = 550

#: Modules allowed over MAX_LINES, each with the reason.
LONG_MODULES: dict[str, str] = {}

#: Old module paths kept importable as re-exports; no package module may import them.
SHIMS = {
    "speechbrain_interp.hub",
    "speechbrain_interp.inference",
    "speechbrain_interp.clap",
    "speechbrain_interp.interpreters.nmf",
    "speechbrain_interp.interpreters.concepts",
}

#: Layers, lowest first: a module may import modules of its own layer or of lower ones.
LAYERS = [
    ("core", ["audio", "spectral", "adapters", "explanation", "figures", "metrics", "localization",
              "sanity", "two_events", "class_evidence", "safety", "synth", "mixtures", "checkpointing",
              "vocabularies", "lobes", "patches", "spliced", "sharding"]),
    ("numerics and embedders", ["solvers", "embedders", "concept_cache", "concept_metrics", "concepts"]),
    ("bricks", ["interpreters", "per_label", "concept_sounds"]),
    ("folders and loading", ["sources", "repository", "transformers_classifier", "loading"]),
    ("interfaces", ["interpreting", "text_interface", "interfaces", "explainer"]),
    ("export", ["brick_spec", "adapter_export", "model_card", "lmac_text_export", "export",
                "recipe_export"]),
    ("applications", ["training", "lmac_training", "long_audio", "report", "report_page", "report_check",
                      "timeline_page", "testing", "testing_text", "cli_explain", "cli_text", "cli",
                      "__main__"]),
]


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _known(name: str) -> str | None:
    """The package module that ``name`` lives in (a module, or a name defined in one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str) -> set[str]:
    """Package modules that ``module`` imports anywhere in its code (not in docstrings)."""
    path = MODULES[module]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_known(a.name) for a in node.names if a.name.startswith("speechbrain_interp"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = _package_of(module, path)
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if not base.startswith("speechbrain_interp"):
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else _known(base))
    found.discard(None)
    found.discard(module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _layer(module: str) -> int | None:
    relative = module.removeprefix("speechbrain_interp").lstrip(".")
    top = relative.split(".")[0]
    for rank, (_, names) in enumerate(LAYERS):
        if top in names:
            return rank
    return None


def test_the_graph_sees_module_and_function_level_imports():
    assert "speechbrain_interp.sources" in GRAPH["speechbrain_interp.loading"]
    # cli imports everything inside its command functions
    assert "speechbrain_interp.recipe_export" in GRAPH["speechbrain_interp.cli"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = _cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    if module in LONG_MODULES:
        return
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES}): split it by job"


def test_long_module_exceptions_are_still_needed():
    for module in LONG_MODULES:
        lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
        assert lines > MAX_LINES, f"{module} is back under {MAX_LINES} lines: drop its exception"


def test_every_module_has_a_layer():
    shims = {m for m in SHIMS}
    missing = [m for m in MODULES if m != "speechbrain_interp" and m not in shims and _layer(m) is None]
    assert not missing, f"add these modules to a layer (and to CONTRIBUTING.md): {missing}"


def test_imports_go_down_the_layers():
    wrong = []
    for module, imported in GRAPH.items():
        if module in SHIMS or _layer(module) is None:
            continue
        for other in imported:
            if other in SHIMS:
                wrong.append(f"{module} imports the re-export shim {other}; import the new home")
            elif _layer(other) is not None and _layer(other) > _layer(module):
                wrong.append(f"{module} ({LAYERS[_layer(module)][0]}) imports {other} "
                             f"({LAYERS[_layer(other)][0]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_bricks_never_read_audio_or_data_files():
    """Bricks get tensors; reading audio is the interfaces' job (their own weights excepted)."""
    readers = {"speechbrain_interp.audio.load_audio", "speechbrain_interp.interpreting",
               "speechbrain_interp.loading", "speechbrain_interp.sources", "soundfile", "torchaudio.load"}
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith("speechbrain_interp.interpreters") or module in SHIMS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {f"{node.module}.{a.name}" for a in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            else:
                continue
            wrong += [f"{module}: {n}" for n in names & readers]
    assert not wrong, wrong


#: Dotted paths that exported folders, recipe YAMLs and users name at their old homes -> new home.
OLD_PATHS = {
    "speechbrain_interp.hub.load": "speechbrain_interp.interfaces.load",
    "speechbrain_interp.hub.export_interpreter": "speechbrain_interp.export.export_interpreter",
    "speechbrain_interp.hub.export_recipe": "speechbrain_interp.recipe_export.export_recipe",
    "speechbrain_interp.hub.ModelCardInfo": "speechbrain_interp.model_card.ModelCardInfo",
    "speechbrain_interp.hub.bundled_interpreter": "speechbrain_interp.sources.bundled_interpreter",
    "speechbrain_interp.inference.build_concept_interpreter":
        "speechbrain_interp.interfaces.build_concept_interpreter",
    "speechbrain_interp.inference.LMACInterface": "speechbrain_interp.interfaces.LMACInterface",
    "speechbrain_interp.inference.explain_classifier": "speechbrain_interp.explainer.explain_classifier",
    "speechbrain_interp.inference.train_lmac": "speechbrain_interp.training.train_lmac",
    "speechbrain_interp.clap.TextAlignedEncoder": "speechbrain_interp.embedders.aligned.TextAlignedEncoder",
    "speechbrain_interp.clap.text_encoder": "speechbrain_interp.embedders.text.text_encoder",
    "speechbrain_interp.clap.LaionCLAP": "speechbrain_interp.embedders.laion_clap.LaionCLAP",
    "speechbrain_interp.interpreters.nmf.NMFDictionary":
        "speechbrain_interp.solvers.nmf_dictionary.NMFDictionary",
    "speechbrain_interp.interpreters.concepts.ConceptInterpreter":
        "speechbrain_interp.interpreters.concept_bottleneck.ConceptInterpreter",
    "speechbrain_interp.concepts.nonneg_lasso": "speechbrain_interp.solvers.lasso.nonneg_lasso",
    "speechbrain_interp.concepts.LinearProbe": "speechbrain_interp.concept_metrics.LinearProbe",
}


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_old_paths_still_resolve(old):
    import pydoc

    assert pydoc.locate(old) is pydoc.locate(OLD_PATHS[old]) is not None


def test_yaml_targets_at_old_and_new_homes_are_allowed():
    from speechbrain_interp.safety import DEFAULT_ALLOW, _check_target

    yaml_targets = ("build_concept_interpreter", ".clap.", "NMFDictionary", "ConceptInterpreter")
    for old, new in OLD_PATHS.items():
        if not any(name in old for name in yaml_targets):
            continue  # loaders, exporters and solvers are not YAML targets
        for target in (old, new):
            _check_target("!name:", target, DEFAULT_ALLOW, "test")


def test_a_folder_naming_the_old_nmf_path_still_loads(tmp_path):
    """L2I folders exported before the split name interpreters.nmf.NMFDictionary in their YAML."""
    import torch

    from speechbrain_interp.export import export_interpreter
    from speechbrain_interp.interfaces import load
    from speechbrain_interp.interpreters.l2i import L2I
    from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary
    from speechbrain_interp.testing import load_speechbrain_classifier, make_speechbrain_classifier

    folder = make_speechbrain_classifier(tmp_path / "classifier", "xvector", n_mels=24)
    adapter = load_speechbrain_classifier(folder)
    brick = L2I(adapter, NMFDictionary(8, adapter.frontend.n_freqs), channels=8, top_k=2).eval()
    repo = export_interpreter(brick, tmp_path / "repo", classifier_source=folder, examples=False)
    yaml = repo / "hyperparams.yaml"
    text = yaml.read_text(encoding="utf-8")
    assert "!new:speechbrain_interp.solvers.nmf_dictionary.NMFDictionary" in text
    yaml.write_text(text.replace("speechbrain_interp.solvers.nmf_dictionary.NMFDictionary",
                                 "speechbrain_interp.interpreters.nmf.NMFDictionary"), encoding="utf-8")
    wav = torch.randn(1, 16000) * 0.1
    assert torch.equal(load(repo).interpret_batch(wav).mask, brick.explain(wav).mask)
