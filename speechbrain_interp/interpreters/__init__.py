"""Interpreter bricks: each turns a classifier adapter into ``explain(wav) -> Explanation``."""

from speechbrain_interp.interpreters.base import Interpreter

__all__ = ["Interpreter"]
