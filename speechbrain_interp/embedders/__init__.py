"""Audio-text embedders: the joint spaces that concept bottlenecks decompose audio in.

* :mod:`~speechbrain_interp.embedders.base`: the protocol every embedder follows,
  :class:`AudioTextEmbedder` (``embed_audio``, ``embed_text``, ``cache_key``);
* :mod:`~speechbrain_interp.embedders.text`: text towers (:class:`SentenceTextEncoder`,
  :class:`HashingTextEncoder`) and :func:`label_captions`;
* :mod:`~speechbrain_interp.embedders.aligned`: :class:`TextAlignedEncoder`, any SpeechBrain
  classifier made text-aligned by a projection into a text tower's space;
* :mod:`~speechbrain_interp.embedders.laion_clap`: :class:`LaionCLAP`, loaded offline and
  without unpickling.
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

__all__ = [
    "AudioTextEmbedder",
    "CLAPLoadError",
    "HashingTextEncoder",
    "LaionCLAP",
    "SentenceTextEncoder",
    "TextAlignedEncoder",
    "check_tokenizer",
    "label_captions",
    "text_encoder",
]
