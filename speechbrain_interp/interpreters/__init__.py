"""Interpreter bricks: each turns a classifier adapter into ``explain(wav) -> Explanation``.

* :class:`LMAC`: listenable masks from a decoder over the classifier's hidden layers;
* :class:`L2I` (with :class:`NMFDictionary`, :class:`NMFEncoder`): relevant NMF components;
* :class:`ConceptInterpreter`: the sparse concepts an audio-text embedding is made of;
* :mod:`~speechbrain_interp.interpreters.baselines`: Captum gradient baselines as masks.
"""

from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.interpreters.concept_bottleneck import ConceptInterpreter
from speechbrain_interp.interpreters.l2i import L2I
from speechbrain_interp.interpreters.lmac import LMAC
from speechbrain_interp.solvers.nmf_dictionary import NMFDictionary, NMFEncoder  # kept for old imports

__all__ = ["ConceptInterpreter", "Interpreter", "L2I", "LMAC", "NMFDictionary", "NMFEncoder"]
