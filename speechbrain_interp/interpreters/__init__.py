"""Interpreter bricks: each turns a classifier adapter into ``explain(wav) -> Explanation``.

* :class:`LMAC`: listenable masks from a decoder over the classifier's hidden layers;
* :class:`L2I`: relevant NMF components (the dictionary, :class:`NMFDictionary`, and
  :class:`NMFEncoder` live in :mod:`speechbrain_interp.solvers`; importable here as before);
* :class:`ConceptInterpreter` (:mod:`~speechbrain_interp.interpreters.concept_bottleneck`): the
  sparse concepts an audio-text embedding is made of;
* :mod:`~speechbrain_interp.interpreters.baselines`: Captum gradient baselines as masks.
"""

from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.interpreters.concept_bottleneck import ConceptInterpreter
from speechbrain_interp.interpreters.l2i import L2I
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary, NMFEncoder  # kept for old imports

__all__ = ["ConceptInterpreter", "Interpreter", "L2I", "LMAC", "NMFDictionary", "NMFEncoder"]
