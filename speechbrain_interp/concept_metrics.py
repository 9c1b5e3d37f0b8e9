"""How well concepts classify: zero-shot logits, a linear probe, a fine-tuned projector.

The concept recipe (``recipes/ESC50/concepts``) compares an embedder's zero-shot accuracy
(:func:`zero_shot_logits`), a :class:`LinearProbe` fitted on its embeddings, and a
:class:`ConceptProjector` fine-tuned towards the class texts, with and without the concept
bottleneck in between. These measure the embedding space, next to the faithfulness metrics
of explanations in :mod:`speechbrain_interp.metrics`.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["zero_shot_logits", "LinearProbe", "ConceptProjector"]


def zero_shot_logits(audio_embeddings: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity ``(N, classes)`` between audio embeddings and class-prompt text embeddings.

    Example
    -------
    >>> zero_shot_logits(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
    tensor([[0., 1.]])
    """
    return F.normalize(audio_embeddings.float(), dim=-1) @ F.normalize(class_embeddings.float(), dim=-1).T


class LinearProbe(nn.Module):
    """Multinomial logistic regression on fixed features (dense embeddings or concept weights).

    Features are standardised with the training statistics; the weights are fitted by
    full-batch L-BFGS with an L2 penalty, deterministically.

    Arguments
    ---------
    n_features, n_classes : int
        Sizes.
    l2 : float
        L2 penalty on the weights (mean cross-entropy + ``l2 * ||W||^2``).

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(60, 5); y = (x[:, 0] > 0).long()
    >>> probe = LinearProbe(5, 2).fit(x, y)
    >>> probe.accuracy(x, y) > 0.9
    True
    """

    def __init__(self, n_features: int, n_classes: int, l2: float = 1e-3):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)
        self.l2 = l2
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x.float() - self.mean) / self.std)

    def fit(self, x: torch.Tensor, y: torch.Tensor, max_iter: int = 200) -> LinearProbe:
        """Fit on ``(N, features)`` and ``(N,)`` labels; returns ``self``."""
        x = x.detach().float()
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-6))
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        opt = torch.optim.LBFGS(self.linear.parameters(), lr=1.0, max_iter=max_iter,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-6)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(self(x), y) + self.l2 * self.linear.weight.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
        return self

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``(x, y)`` classified correctly."""
        return float((self(x).argmax(-1) == y).float().mean())


class ConceptProjector(nn.Module):
    """Fine-tuned variant: a linear projector on audio embeddings, trained on downstream labels.

    ``P`` (initialised to the identity) maps an audio embedding so that its cosine with the
    text embedding of its class prompt is high (cross-entropy over the classes, with a
    penalty keeping ``P`` near the identity so that the projected embeddings stay in the
    joint space the concepts live in). Concept weights of ``P z`` are then more
    discriminative for the task while remaining concept weights.

    Arguments
    ---------
    dim : int
        Embedding size.
    temperature : float
        Logit scale is ``1 / temperature``.
    identity_penalty : float
        Weight of ``||P - I||^2``.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> classes = F.normalize(torch.randn(3, 8), dim=-1)
    >>> y = torch.arange(3).repeat(10)
    >>> z = F.normalize(classes[y] + 0.8 * torch.randn(30, 8), dim=-1)
    >>> proj = ConceptProjector(8)
    >>> before = float((zero_shot_logits(z, classes).argmax(-1) == y).float().mean())
    >>> after = float((zero_shot_logits(proj.fit(z, y, classes)(z), classes).argmax(-1) == y).float().mean())
    >>> after >= before
    True
    """

    def __init__(self, dim: int, temperature: float = 0.05, identity_penalty: float = 1e-2):
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dim))
            self.linear.bias.zero_()
        self.temperature = temperature
        self.identity_penalty = identity_penalty

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(F.normalize(z.float(), dim=-1)), dim=-1)

    def loss(self, z, y, class_embeddings):
        """Cross-entropy of the projected zero-shot logits plus the identity penalty."""
        logits = zero_shot_logits(self(z), class_embeddings) / self.temperature
        eye = torch.eye(self.linear.weight.shape[0], device=z.device)
        return F.cross_entropy(logits, y) + self.identity_penalty * (self.linear.weight - eye).pow(2).sum()

    def fit(self, z, y, class_embeddings, epochs: int = 200, lr: float = 1e-2) -> ConceptProjector:
        """Full-batch Adam on ``(N, dim)`` embeddings and labels; returns ``self``."""
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        z, class_embeddings = z.detach().float(), class_embeddings.detach().float()
        with torch.enable_grad():
            for _ in range(epochs):
                opt.zero_grad()
                self.loss(z, y, class_embeddings).backward()
                opt.step()
        return self
