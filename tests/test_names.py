"""One noun per idea: interfaces are "...Interface"; their old names still work and warn."""

from __future__ import annotations

import json
import shutil

import pytest

import speechbrain_interp
from speechbrain_interp import explainer, inference, interfaces
from speechbrain_interp.sources import bundled_interpreter

OLD = {
    "PretrainedInterpreter": interfaces.PretrainedInterface,
    "LMACInterpreter": interfaces.LMACInterface,
    "L2IInterpreter": interfaces.L2IInterface,
    "ConceptBottleneckInterpreter": interfaces.ConceptBottleneckInterface,
    "ClassifierExplainer": explainer.ClassifierInterface,
}


@pytest.mark.parametrize("old", sorted(OLD))
def test_old_names_resolve_everywhere_with_a_warning(old):
    homes = [speechbrain_interp, inference, explainer if old == "ClassifierExplainer" else interfaces]
    for home in homes:
        with pytest.warns(DeprecationWarning, match=old):
            assert getattr(home, old) is OLD[old]


def test_old_import_statements_still_work():
    with pytest.warns(DeprecationWarning):
        from speechbrain_interp.inference import LMACInterpreter  # noqa: F401
    with pytest.warns(DeprecationWarning):
        from speechbrain_interp import ClassifierExplainer  # noqa: F401


def test_no_brick_is_called_an_interface_and_no_interface_an_interpreter():
    from speechbrain_interp.interpreters import base

    for name, cls in vars(interfaces).items():
        if isinstance(cls, type) and issubclass(cls, interfaces.PretrainedInterface):
            assert name.endswith("Interface"), name
    for brick in base.Interpreter.__subclasses__():
        assert not brick.__name__.endswith("Interface"), brick.__name__


def test_a_folder_exported_under_the_old_interface_name_still_loads(tmp_path):
    folder = tmp_path / "old_export"
    shutil.copytree(bundled_interpreter(), folder)
    config = json.loads((folder / "config.json").read_text())
    config["speechbrain_interface"] = "LMACInterpreter"  # as the first releases wrote it
    (folder / "config.json").write_text(json.dumps(config))
    loaded = interfaces.load(folder, savedir=tmp_path / "savedir")
    assert isinstance(loaded, interfaces.LMACInterface)
    assert loaded.interpreter.method == "L-MAC"


def test_the_first_released_folder_still_loads_and_behaves_as_then(tmp_path):
    """A folder exported by the first release (old interface name, ``speechbrain_interp.inference``
    module, a decoder with a bias per frequency bin) loads with today's code."""
    from pathlib import Path

    folder = tmp_path / "first_release"
    shutil.copytree(Path(__file__).parent / "data" / "lmac_first_release", folder)
    for name in ("embedding_model.safetensors", "classifier.safetensors", "label_encoder.txt"):
        shutil.copy(bundled_interpreter() / name, folder / name)  # the same classifier (same SHA-256)
    loaded = interfaces.load(folder, savedir=tmp_path / "savedir")
    assert isinstance(loaded, interfaces.LMACInterface)
    brick = loaded.interpreter
    assert brick.options["profile_bias"] and brick.options["freq_cells"] is None  # the legacy decoder
    e = loaded.interpret_file(bundled_interpreter() / "examples" / "crickets_in_noise.wav")
    # the first release's masks: a near-uniform filter, mean about one half (issue 11's finding)
    assert 0.35 < float(e.mask.mean()) < 0.65
