"""Numerical solvers the bricks use, kept out of the bricks' namespace.

* :mod:`~speechbrain_interp.solvers.nmf`: beta-divergence NMF by multiplicative updates;
* :mod:`~speechbrain_interp.solvers.nmf_dictionary`: the NMF dictionary and amortised
  encoder as torch modules (L2I's dictionary);
* :mod:`~speechbrain_interp.solvers.lasso`: the exact, batched non-negative lasso of the
  concept bottleneck.
"""
