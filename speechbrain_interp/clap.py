"""Old home of the audio-text embedders, kept so that existing imports and YAML targets keep working.

The embedders now live in :mod:`speechbrain_interp.embedders`, one module per job; this
module only re-exports their names:

* :mod:`speechbrain_interp.embedders.base`: the protocol, ``AudioTextEmbedder``;
* :mod:`speechbrain_interp.embedders.text`: ``HashingTextEncoder``, ``SentenceTextEncoder``,
  ``text_encoder``, ``label_captions``;
* :mod:`speechbrain_interp.embedders.aligned`: ``TextAlignedEncoder``;
* :mod:`speechbrain_interp.embedders.laion_clap`: ``LaionCLAP``, ``CLAPLoadError``,
  ``check_tokenizer``;
* :mod:`speechbrain_interp.testing`: ``write_random_laion_clap`` (a random-weight test fixture).

Recipe YAMLs name ``speechbrain_interp.clap.TextAlignedEncoder``,
``speechbrain_interp.clap.text_encoder`` and ``speechbrain_interp.clap.LaionCLAP``.

Example
-------
>>> from speechbrain_interp import clap, embedders
>>> clap.TextAlignedEncoder is embedders.TextAlignedEncoder
True

Authors
* speechbrain_interp contributors 2026
"""

from speechbrain_interp.embedders.aligned import TextAlignedEncoder
from speechbrain_interp.embedders.base import AudioTextEmbedder
from speechbrain_interp.embedders.laion_clap import CLAPLoadError, LaionCLAP, check_tokenizer
from speechbrain_interp.embedders.text import (
    HashingTextEncoder,
    SentenceTextEncoder,
    label_captions,
    text_encoder,
)
from speechbrain_interp.testing import write_random_laion_clap

__all__ = [
    "AudioTextEmbedder",
    "CLAPLoadError",
    "HashingTextEncoder",
    "SentenceTextEncoder",
    "TextAlignedEncoder",
    "LaionCLAP",
    "label_captions",
    "text_encoder",
    "check_tokenizer",
    "write_random_laion_clap",
]
