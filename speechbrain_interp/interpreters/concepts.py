"""Old name of the concept-bottleneck brick's module, kept so that existing imports keep working.

The brick, :class:`~speechbrain_interp.interpreters.concept_bottleneck.ConceptInterpreter`,
lives in :mod:`speechbrain_interp.interpreters.concept_bottleneck`, so that
``speechbrain_interp.concepts`` (the bottleneck itself) is the only module named
``concepts``. This module only re-exports the brick.

Example
-------
>>> from speechbrain_interp.interpreters import concepts, concept_bottleneck
>>> concepts.ConceptInterpreter is concept_bottleneck.ConceptInterpreter
True

Authors
* speechbrain_interp contributors 2026
"""

from speechbrain_interp.interpreters.concept_bottleneck import ConceptInterpreter

__all__ = ["ConceptInterpreter"]
