"""Interpreter bricks: each turns a classifier adapter into ``explain(wav) -> Explanation``."""

from speechbrain_interp.interpreters.base import Interpreter
from speechbrain_interp.interpreters.l2i import L2I
from speechbrain_interp.interpreters.nmf import NMFDictionary, NMFEncoder

__all__ = ["Interpreter", "L2I", "NMFDictionary", "NMFEncoder"]
from speechbrain_interp.interpreters.lmac import LMAC as LMAC  # noqa: E402  (L-MAC brick)
