"""Old home of the Hub code, kept so that existing imports keep working.

``hub.py`` held five jobs; each now has its own module, and this module only re-exports
their names (new code should import from the new homes):

* :mod:`speechbrain_interp.sources`: ``resolve_source``, ``hub_cache_dir``,
  ``HubUnavailableError``, ``bundled_interpreter``, ``BUNDLED_INTERPRETER``;
* :mod:`speechbrain_interp.loading`: ``load_pretrained``, ``load_classifier``;
* :mod:`speechbrain_interp.interfaces`: ``load`` (an exported interpreter, by ``config.json``);
* :mod:`speechbrain_interp.repository`: ``CLASSIFIER_MODULES``, ``classifier_fingerprint``,
  ``shared_prefixes``, ``check_hub_folder``;
* :mod:`speechbrain_interp.brick_spec`: ``brick_spec``, ``ModuleSpec``;
* :mod:`speechbrain_interp.export`: ``export_interpreter``, ``push_to_hub``;
* :mod:`speechbrain_interp.model_card`: ``ModelCardInfo``, ``model_card``;
* :mod:`speechbrain_interp.recipe_export`: ``export_recipe``, ``export``,
  ``evaluation_from_file``, ``logged_test_table``.

Exported folders name ``speechbrain_interp.hub.load`` in a comment of their
``hyperparams.yaml``; it still resolves here.

Example
-------
>>> from speechbrain_interp import hub, interfaces
>>> hub.load is interfaces.load
True

Authors
* speechbrain_interp contributors 2026
"""

from speechbrain_interp.brick_spec import ModuleSpec, brick_spec
from speechbrain_interp.export import export_interpreter, push_to_hub
from speechbrain_interp.interfaces import load
from speechbrain_interp.loading import load_classifier, load_pretrained
from speechbrain_interp.model_card import ModelCardInfo, model_card
from speechbrain_interp.recipe_export import evaluation_from_file, export, export_recipe, logged_test_table
from speechbrain_interp.repository import (
    CLASSIFIER_MODULES,
    check_hub_folder,
    classifier_fingerprint,
    shared_prefixes,
)
from speechbrain_interp.sources import (
    BUNDLED_INTERPRETER,
    HubUnavailableError,
    bundled_interpreter,
    hub_cache_dir,
    resolve_source,
)

__all__ = [
    "HubUnavailableError",
    "ModelCardInfo",
    "resolve_source",
    "hub_cache_dir",
    "load_pretrained",
    "load_classifier",
    "load",
    "bundled_interpreter",
    "BUNDLED_INTERPRETER",
    "export_interpreter",
    "export",
    "export_recipe",
    "evaluation_from_file",
    "logged_test_table",
    "brick_spec",
    "shared_prefixes",
    "ModuleSpec",
    "classifier_fingerprint",
    "check_hub_folder",
    "push_to_hub",
    "model_card",
    "CLASSIFIER_MODULES",
]
