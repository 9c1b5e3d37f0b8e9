"""Old home of the NMF solver, kept so that existing imports and YAML targets keep working.

NMF is a numerical library, not an interpreter brick: the updates live in
:mod:`speechbrain_interp.solvers.nmf` and the torch modules (``NMFDictionary``,
``NMFEncoder``) in :mod:`speechbrain_interp.solvers.nmf_dictionary`. This module only
re-exports them; recipe YAMLs name ``speechbrain_interp.interpreters.nmf.NMFDictionary``.

Example
-------
>>> from speechbrain_interp.interpreters import nmf
>>> from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary
>>> nmf.NMFDictionary is NMFDictionary
True

Authors
* speechbrain_interp contributors 2026
"""

from speechbrain_interp.solvers.nmf import (  # noqa: F401 (private helpers kept for old imports)
    EPSILON,
    _update_activations,
    _update_dictionary,
    beta_divergence,
    beta_value,
    multiplicative_update,
    reconstruction_error,
)
from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary, NMFEncoder

__all__ = [
    "beta_value",
    "beta_divergence",
    "reconstruction_error",
    "multiplicative_update",
    "NMFDictionary",
    "NMFEncoder",
]
