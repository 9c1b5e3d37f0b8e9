"""Safe loading of SpeechBrain folders: ``Pretrained`` interfaces, classifiers, classifier adapters.

:func:`load_pretrained` is SpeechBrain's ``from_hparams`` with the YAML checked against the
allow-list of :mod:`speechbrain_interp.safety` before anything in it is built, and weights
read without unpickling. :func:`load_classifier` loads an existing SpeechBrain classifier
(folder or Hub id) that way, and :func:`load_classifier_adapter` wraps one (object, folder or
Hub id) in the :class:`~speechbrain_interp.adapters.ClassifierAdapter` the bricks read.
A folder exported by :mod:`speechbrain_interp.adapter_export` (``classifier.yaml``, e.g. an
interpreter folder of a non-SpeechBrain classifier) gives back its adapter
(:func:`load_exported_classifier`), under the same allow-list. Loading an exported
*interpreter* is :func:`speechbrain_interp.interfaces.load`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

from pathlib import Path

from speechbrain.inference.interfaces import Pretrained

from speechbrain_interp.adapters import ClassifierAdapter, SpeechBrainClassifier
from speechbrain_interp.safety import SafePretrainer, load_hparams, load_weights_into, safe_load_collected
from speechbrain_interp.sources import resolve_source
from speechbrain_interp.transformers_classifier import (
    HUB_FILES,
    TransformersClassifier,
    is_transformers_folder,
    is_transformers_model,
    load_transformers_model,
)

__all__ = ["load_pretrained", "load_classifier", "load_classifier_adapter", "as_adapter", "DEFAULT_LAYERS",
           "load_exported_classifier", "CLASSIFIER_YAML", "CLASSIFIER_WEIGHTS"]

#: The classifier of an exported folder (:mod:`speechbrain_interp.adapter_export`) and its weights.
CLASSIFIER_YAML = "classifier.yaml"
CLASSIFIER_WEIGHTS = "classifier.safetensors"


def load_pretrained(cls, folder, savedir=None, hparams_file: str = "hyperparams.yaml",
                    overrides=None, run_opts=None, trust_code: bool = False, allow=(), **kwargs):
    """Build a SpeechBrain ``Pretrained`` subclass from a local folder, safely.

    SpeechBrain's ``pretrained_from_hparams``, with two changes: the YAML is checked
    against the allow-list before anything in it is built (unless ``trust_code``), and
    weights are read with safetensors or ``torch.load(weights_only=True)``.

    Arguments
    ---------
    cls : type
        E.g. :class:`~speechbrain_interp.interfaces.LMACInterface` or SpeechBrain's
        ``EncoderClassifier``.
    folder : str or Path
        Local repository folder (see :func:`resolve_source`).
    savedir : str or Path, optional
        Where links to the files are collected (SpeechBrain convention); None uses the
        folder in place.
    hparams_file, overrides, run_opts
        As for SpeechBrain's ``from_hparams``.
    trust_code : bool
        Allow the YAML to build anything (only for repositories you trust).
    allow : iterable of str
        Extra allowed dotted prefixes.
    **kwargs
        Passed to ``cls``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain.inference.classifiers import EncoderClassifier
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "xvector", n_mels=24)
    >>> model = load_pretrained(EncoderClassifier, folder)
    >>> sorted(model.mods.keys())
    ['classifier', 'compute_features', 'embedding_model', 'mean_var_norm']
    """
    from speechbrain.utils.distributed import run_on_main
    from speechbrain.utils.fetching import FetchConfig

    folder = Path(folder).resolve()
    path = folder / hparams_file
    if not path.is_file():
        raise FileNotFoundError(f"'{folder}' has no {hparams_file}; is it a SpeechBrain model folder?")
    hparams = load_hparams(path, overrides=overrides, trust_code=trust_code, allow=allow)
    if "pretrainer" not in hparams or "modules" not in hparams:
        raise ValueError(f"{path} needs 'modules:' and 'pretrainer:' keys (SpeechBrain inference YAML)")
    hparams["savedir"] = savedir
    pretrainer = hparams["pretrainer"]
    pretrainer.set_collect_in(savedir)
    # overwrite=True: links left in savedir by another model are replaced, never reused. Under
    # DDP the main process replaces them and the others then reuse them: processes that each
    # replaced the links of one savedir would read a link another had just removed
    run_on_main(pretrainer.collect_files,
                kwargs={"default_source": str(folder),
                        "fetch_config": FetchConfig(overwrite=True, allow_network=False)},
                post_func=pretrainer.collect_files,
                post_kwargs={"default_source": str(folder),
                             "fetch_config": FetchConfig(overwrite=False, allow_network=False)})
    if isinstance(pretrainer, SafePretrainer):
        pretrainer.load_collected()
    else:
        safe_load_collected(pretrainer)
    return cls(modules=hparams["modules"], hparams=hparams, run_opts=run_opts, **kwargs)


def _classifier_interface(hparams_path: Path):
    """SpeechBrain interface class for a classifier folder, from the modules its YAML declares."""
    from ruamel.yaml import YAML
    from speechbrain.inference import classifiers

    tree = YAML(typ="rt").load(hparams_path.read_text(encoding="utf-8"))
    modules = tree.get("modules") or {}
    if "compute_stft" in modules:
        return classifiers.AudioClassifier
    return classifiers.EncoderClassifier


def load_exported_classifier(folder, allow=(), trust_code: bool = False):
    """The classifier adapter of an exported folder (``classifier.yaml``), checked and loaded safely.

    Arguments
    ---------
    folder : str or Path
        A folder written by :func:`speechbrain_interp.export.export_interpreter` for a
        non-SpeechBrain classifier.
    allow : iterable of str
        Extra allowed dotted prefixes (e.g. your model's package).
    trust_code : bool
        Build anything the YAML names (only for folders you trust).

    Example
    -------
    >>> import tempfile, torch
    >>> from speechbrain_interp.adapter_export import write_classifier
    >>> from speechbrain_interp.adapters import TorchClassifier
    >>> from speechbrain_interp.spectral import SpectralFrontEnd
    >>> folder = tempfile.mkdtemp()
    >>> adapter = TorchClassifier(torch.nn.Linear(33, 2), SpectralFrontEnd(n_fft=64), input="magnitude")
    >>> _ = write_classifier(adapter, folder)
    >>> loaded = load_exported_classifier(folder)
    >>> bool(torch.equal(loaded.model.weight, adapter.model.weight))
    True
    """
    folder = Path(folder)
    path = folder / CLASSIFIER_YAML
    if not path.is_file():
        raise FileNotFoundError(f"'{folder}' has no {CLASSIFIER_YAML}; export the classifier with "
                                "speechbrain_interp.export.export_interpreter")
    overrides = {"exported_folder": str(folder.resolve())}
    hparams = load_hparams(path, overrides, trust_code=trust_code, allow=allow)
    if "classifier" in hparams:
        load_weights_into(hparams["classifier"], folder / CLASSIFIER_WEIGHTS)
    return hparams["classifier_adapter"]


def _classifier_folder(source, revision, offline, trust_code) -> Path:
    """The local folder of a classifier; of a transformers Hub repository, only the files it needs."""
    if Path(str(source)).expanduser().is_dir():
        return resolve_source(source)
    # the configs first: a transformers repository also holds .bin/.h5/.onnx copies never loaded
    probe = resolve_source(source, revision=revision, offline=offline,
                           allow_patterns=["config.json", "hyperparams.yaml", CLASSIFIER_YAML])
    if is_transformers_folder(probe):
        patterns = HUB_FILES + (["*.py"] if trust_code else [])
        return resolve_source(source, revision=revision, offline=offline, allow_patterns=patterns)
    return resolve_source(source, revision=revision, offline=offline)


def load_classifier(source, savedir=None, interface=None, trust_code: bool = False, allow=(),
                    revision=None, offline=None, run_opts=None):
    """Load an existing SpeechBrain classifier (folder or Hub id) safely.

    A folder or Hub repository with a transformers ``config.json`` (and no ``hyperparams.yaml``)
    is loaded as a transformers audio classifier instead (safetensors weights only, see
    :func:`~speechbrain_interp.transformers_classifier.load_transformers_model`); from a Hub
    id, only its configs and safetensors are downloaded. A folder exported with its classifier
    (``classifier.yaml``, :func:`load_exported_classifier`) gives that classifier's adapter.

    Arguments
    ---------
    source : str or Path
        Folder or Hub id of an ``AudioClassifier`` / ``EncoderClassifier``, or of a transformers
        audio classifier.
    interface : str or type, optional
        Interface class or its name in ``speechbrain.inference.classifiers``; guessed from
        the modules (``compute_stft`` means ``AudioClassifier``) when not given.
    savedir, trust_code, allow, revision, offline, run_opts
        See :func:`resolve_source` and :func:`load_pretrained`.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "cnn14", n_mels=32)
    >>> type(load_classifier(folder)).__name__
    'AudioClassifier'
    """
    from speechbrain.inference import classifiers

    folder = _classifier_folder(source, revision, offline, trust_code)
    if is_transformers_folder(folder):  # a transformers save_pretrained folder or Hub repository
        return load_transformers_model(folder, trust_remote_code=trust_code)
    if (folder / CLASSIFIER_YAML).is_file():  # exported by adapter_export (an interpreter's folder)
        return load_exported_classifier(folder, allow=allow, trust_code=trust_code)
    if savedir is not None:  # as SpeechBrain's from_hparams: a recipe's <output_folder>/classifier
        Path(savedir).mkdir(parents=True, exist_ok=True)
    if interface is None:
        interface = _classifier_interface(folder / "hyperparams.yaml")
    elif isinstance(interface, str):
        interface = getattr(classifiers, interface)
    return load_pretrained(interface, folder, savedir=savedir, trust_code=trust_code, allow=allow,
                           run_opts=run_opts)


#: Hidden layers a brick reads by default, by class name of the embedding model: its last blocks.
DEFAULT_LAYERS = {
    "CompactCNN": ["embedding_model.conv_block5", "embedding_model.conv_block4"],
    "Cnn14": ["embedding_model.conv_block6", "embedding_model.conv_block5"],
    "ECAPA_TDNN": ["embedding_model.blocks.3", "embedding_model.mfa"],
    "Xvector": ["embedding_model.blocks.11", "embedding_model.blocks.14"],
}


def _default_layers(pretrained) -> list:
    """Hidden layers a brick can read: the last blocks of the embedding model."""
    return list(DEFAULT_LAYERS.get(type(pretrained.mods["embedding_model"]).__name__, []))


def as_adapter(classifier, adapter_spec=None) -> ClassifierAdapter:
    """The ``ClassifierAdapter`` of a loaded classifier (an adapter is returned as is).

    Arguments
    ---------
    classifier : ClassifierAdapter, Pretrained or transformers.PreTrainedModel
        The classifier (SpeechBrain's ``Pretrained`` interfaces); a transformers model becomes a
        :class:`~speechbrain_interp.transformers_classifier.TransformersClassifier`.
    adapter_spec : dict, optional
        ``SpeechBrainClassifier`` (or ``TransformersClassifier``) options; ``layers`` defaults
        to :data:`DEFAULT_LAYERS` (to the family's last encoder blocks).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> adapter = as_adapter(load_classifier(make_speechbrain_classifier(tempfile.mkdtemp(), "xvector")))
    >>> adapter.layers == DEFAULT_LAYERS["Xvector"]
    True
    """
    if isinstance(classifier, ClassifierAdapter):
        return classifier
    if isinstance(classifier, Pretrained):
        spec = dict(adapter_spec or {})
        spec.setdefault("layers", _default_layers(classifier))
        return SpeechBrainClassifier(classifier, **spec)
    if is_transformers_model(classifier):
        return TransformersClassifier(classifier, **{k: v for k, v in (adapter_spec or {}).items()
                                                     if v is not None})
    raise TypeError(
        "classifier must be a SpeechBrain AudioClassifier/EncoderClassifier, a transformers audio "
        f"classifier, a ClassifierAdapter, or a folder / Hub id of one; got {type(classifier).__name__}"
    )


def load_classifier_adapter(classifier=None, savedir=None, layers=None, trust_code=False, offline=None,
                            interface=None, source=None, run_opts=None, feature_extractor=None, allow=()):
    """A ``ClassifierAdapter`` from a classifier object, adapter, folder or Hub id.

    A folder or Hub id is loaded with :func:`load_classifier` (the allow-list check of its
    YAML, safe weight loading); recipes call it from YAML with ``source``, ``savedir``,
    ``interface`` and ``layers``, like ``SpeechBrainClassifier.from_hparams``. A transformers
    model (object, ``save_pretrained`` folder or Hub id) is wrapped in a
    :class:`~speechbrain_interp.transformers_classifier.TransformersClassifier`, with
    ``feature_extractor`` or the one saved beside it. A folder exported with its classifier
    (``classifier.yaml``) gives that adapter, built only from allow-listed classes (or those of
    ``allow``, or anything with ``trust_code``).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_interp.testing import make_speechbrain_classifier
    >>> folder = make_speechbrain_classifier(tempfile.mkdtemp(), "ecapa", n_mels=24)
    >>> load_classifier_adapter(folder).labels
    ['dog_bark', 'siren', 'rain']
    """
    classifier = source if classifier is None else classifier
    if isinstance(classifier, (str, Path)):
        classifier = load_classifier(classifier, savedir=savedir, interface=interface, trust_code=trust_code,
                                     offline=offline, run_opts=run_opts, allow=allow)
    spec = {} if layers is None else {"layers": list(layers)}
    if is_transformers_model(classifier):
        spec["feature_extractor"] = feature_extractor
        spec["trust_remote_code"] = trust_code
    return as_adapter(classifier, spec)
