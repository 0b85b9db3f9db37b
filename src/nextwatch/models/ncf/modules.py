"""The neural collaborative filtering networks (He et al., WWW 2017) and plain MF, as layers only.

Every module splits its forward pass in three so that scoring a *new* user (fold-in) and batched
full-catalogue scoring reuse the same maths as training:

- ``user_vectors(users)`` / ``item_vectors(items)``: the embedding rows, as a tuple of tensors;
- ``combine(user_vecs, item_vecs)``: logits for aligned pairs (shapes broadcast);
- ``score_matrix(user_vecs, items)``: logits ``[B, M]`` for every (user vector, item) pair, using matrix
  products instead of materialising B*M pairs where the maths allows.

``forward(users, items)`` is ``combine(user_vectors(users), item_vectors(items))``. The modules output
logits; the objective (sigmoid for implicit, tanh for explicit) lives in the trainer and the scorer.
Nothing here knows about datasets, devices or hyperparameter files.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

Vectors = tuple[Tensor, ...]


def _init_embedding(emb: nn.Embedding) -> None:
    # the paper's initialisation: N(0, 0.01)
    nn.init.normal_(emb.weight, mean=0.0, std=0.01)


def _init_dense(layer: nn.Linear) -> None:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)


def _init_prediction(layer: nn.Linear) -> None:
    # LeCun uniform, as the reference implementation's prediction layer
    fan_in = layer.weight.shape[1]
    bound = (3.0 / fan_in) ** 0.5
    nn.init.uniform_(layer.weight, -bound, bound)
    nn.init.zeros_(layer.bias)


class GMF(nn.Module):
    """Generalized matrix factorisation: ``logit = h . (p_u * q_i) + b``."""

    def __init__(self, n_users: int, n_items: int, embedding_size: int) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users, embedding_size)
        self.item_embedding = nn.Embedding(n_items, embedding_size)
        self.predict = nn.Linear(embedding_size, 1)
        _init_embedding(self.user_embedding)
        _init_embedding(self.item_embedding)
        _init_prediction(self.predict)

    def user_vectors(self, users: Tensor) -> Vectors:
        return (self.user_embedding(users),)

    def item_vectors(self, items: Tensor) -> Vectors:
        return (self.item_embedding(items),)

    def branch(self, user_vecs: Vectors, item_vecs: Vectors) -> Tensor:
        """The predictive vector ``p_u * q_i`` (the GMF half of NeuMF's prediction layer input)."""
        return user_vecs[0] * item_vecs[0]

    def combine(self, user_vecs: Vectors, item_vecs: Vectors) -> Tensor:
        return self.predict(self.branch(user_vecs, item_vecs)).squeeze(-1)

    def score_matrix(self, user_vecs: Vectors, items: Tensor) -> Tensor:
        q = self.item_embedding(items)  # [M, f]
        h = self.predict.weight[0]  # [f]
        return (user_vecs[0] * h) @ q.T + self.predict.bias

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        return self.combine(self.user_vectors(users), self.item_vectors(items))


class MLP(nn.Module):
    """``logit = h . tower([p_u; q_i]) + b`` with a ReLU tower ``layers[0] -> layers[1] -> ...``."""

    def __init__(self, n_users: int, n_items: int, layers: tuple[int, ...]) -> None:
        super().__init__()
        half = layers[0] // 2
        self.user_embedding = nn.Embedding(n_users, half)
        self.item_embedding = nn.Embedding(n_items, half)
        self.tower = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(layers))
        self.predict = nn.Linear(layers[-1], 1)
        _init_embedding(self.user_embedding)
        _init_embedding(self.item_embedding)
        for layer in self.tower:
            _init_dense(layer)
        _init_prediction(self.predict)

    def user_vectors(self, users: Tensor) -> Vectors:
        return (self.user_embedding(users),)

    def item_vectors(self, items: Tensor) -> Vectors:
        return (self.item_embedding(items),)

    def branch(self, user_vecs: Vectors, item_vecs: Vectors) -> Tensor:
        """The tower's output for aligned pairs (the MLP half of NeuMF's prediction layer input)."""
        p, q = torch.broadcast_tensors(user_vecs[0], item_vecs[0])
        x = torch.cat([p, q], dim=-1)
        for layer in self.tower:
            x = torch.relu(layer(x))
        return x

    def branch_matrix(self, user_vecs: Vectors, items: Tensor) -> Tensor:
        """Tower output ``[B, M, layers[-1]]`` for every (user vector, item) pair.

        The first layer is linear in the concatenation, ``W [p; q] + c = W_u p + W_i q + c``, so each
        side is multiplied once and the B*M pairs only pay for the (narrower) later layers.
        """
        first = self.tower[0]
        half = self.user_embedding.embedding_dim
        w_u, w_i = first.weight[:, :half], first.weight[:, half:]
        a = user_vecs[0] @ w_u.T + first.bias  # [B, h1]
        c = self.item_embedding(items) @ w_i.T  # [M, h1]
        x = torch.relu(a[:, None, :] + c[None, :, :])
        for layer in self.tower[1:]:
            x = torch.relu(layer(x))
        return x

    def combine(self, user_vecs: Vectors, item_vecs: Vectors) -> Tensor:
        return self.predict(self.branch(user_vecs, item_vecs)).squeeze(-1)

    def score_matrix(self, user_vecs: Vectors, items: Tensor) -> Tensor:
        return self.predict(self.branch_matrix(user_vecs, items)).squeeze(-1)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        return self.combine(self.user_vectors(users), self.item_vectors(items))


class NeuMF(nn.Module):
    """``logit = h . [p^G_u * q^G_i ; tower([p^M_u; q^M_i])] + b``, separate embeddings per branch.

    User vectors are ``(p^G_u, p^M_u)``; item vectors ``(q^G_i, q^M_i)``.
    """

    def __init__(self, n_users: int, n_items: int, embedding_size: int, layers: tuple[int, ...]) -> None:
        super().__init__()
        self.gmf = GMF(n_users, n_items, embedding_size)
        self.mlp = MLP(n_users, n_items, layers)
        # the branches' own output layers are unused inside NeuMF; only their embeddings and tower are
        del self.gmf.predict, self.mlp.predict
        self.predict = nn.Linear(embedding_size + layers[-1], 1)
        _init_prediction(self.predict)

    def user_vectors(self, users: Tensor) -> Vectors:
        return (self.gmf.user_embedding(users), self.mlp.user_embedding(users))

    def item_vectors(self, items: Tensor) -> Vectors:
        return (self.gmf.item_embedding(items), self.mlp.item_embedding(items))

    def combine(self, user_vecs: Vectors, item_vecs: Vectors) -> Tensor:
        g = self.gmf.branch(user_vecs[:1], item_vecs[:1])
        m = self.mlp.branch(user_vecs[1:], item_vecs[1:])
        return self.predict(torch.cat([g, m], dim=-1)).squeeze(-1)

    def score_matrix(self, user_vecs: Vectors, items: Tensor) -> Tensor:
        f = self.gmf.user_embedding.embedding_dim
        h_g, h_m = self.predict.weight[0, :f], self.predict.weight[0, f:]
        q = self.gmf.item_embedding(items)
        gmf_part = (user_vecs[0] * h_g) @ q.T  # [B, M]
        mlp_part = self.mlp.branch_matrix(user_vecs[1:], items) @ h_m  # [B, M]
        return gmf_part + mlp_part + self.predict.bias

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        return self.combine(self.user_vectors(users), self.item_vectors(items))

    @torch.no_grad()
    def load_pretrained(self, gmf: GMF, mlp: MLP, alpha: float = 0.5) -> None:
        """Start from trained GMF and MLP (He et al. 2017, eq. 13): copy embeddings and the tower, and
        join the two prediction layers as ``h = [alpha h_GMF ; (1 - alpha) h_MLP]``, ``b = alpha b_GMF +
        (1 - alpha) b_MLP``."""
        self.gmf.user_embedding.weight.copy_(gmf.user_embedding.weight)
        self.gmf.item_embedding.weight.copy_(gmf.item_embedding.weight)
        self.mlp.user_embedding.weight.copy_(mlp.user_embedding.weight)
        self.mlp.item_embedding.weight.copy_(mlp.item_embedding.weight)
        for mine, theirs in zip(self.mlp.tower, mlp.tower, strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        self.predict.weight.copy_(
            torch.cat([alpha * gmf.predict.weight, (1 - alpha) * mlp.predict.weight], dim=1)
        )
        self.predict.bias.copy_(alpha * gmf.predict.bias + (1 - alpha) * mlp.predict.bias)


class MF(nn.Module):
    """Biased matrix factorisation: ``logit = p_u . q_i + b_u + b_i + b``.

    User vectors are ``(p_u, b_u)``; item vectors ``(q_i, b_i)``.
    """

    def __init__(self, n_users: int, n_items: int, embedding_size: int) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users, embedding_size)
        self.item_embedding = nn.Embedding(n_items, embedding_size)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        self.bias = nn.Parameter(torch.zeros(1))
        # N(0, 0.01) as the other models: a wider start (0.1) leaves random directions in rarely seen
        # rows that the per-sample L2 seldom shrinks (validation RMSE 0.868 -> 0.866 on ML-1M)
        _init_embedding(self.user_embedding)
        _init_embedding(self.item_embedding)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def user_vectors(self, users: Tensor) -> Vectors:
        return (self.user_embedding(users), self.user_bias(users).squeeze(-1))

    def item_vectors(self, items: Tensor) -> Vectors:
        return (self.item_embedding(items), self.item_bias(items).squeeze(-1))

    def combine(self, user_vecs: Vectors, item_vecs: Vectors) -> Tensor:
        return (user_vecs[0] * item_vecs[0]).sum(-1) + user_vecs[1] + item_vecs[1] + self.bias

    def score_matrix(self, user_vecs: Vectors, items: Tensor) -> Tensor:
        q = self.item_embedding(items)
        b_i = self.item_bias(items).squeeze(-1)
        return user_vecs[0] @ q.T + user_vecs[1][:, None] + b_i[None, :] + self.bias

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        return self.combine(self.user_vectors(users), self.item_vectors(items))


class TrainStep(nn.Module):
    """What the optimiser (and a DistributedDataParallel wrapper) calls: logits plus the L2 penalty.

    ``forward(users, items) -> (logits, penalty)`` where ``penalty`` is the mean over the batch of the
    squared norms of the embedding rows (and biases) the batch touches, or a constant 0 when
    ``with_penalty`` is off (no regularisation: nothing to compute). Holds no parameters of its own.
    """

    def __init__(self, model: nn.Module, *, with_penalty: bool = True) -> None:
        super().__init__()
        self.model = model
        self.with_penalty = with_penalty

    def forward(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        uv = self.model.user_vectors(users)
        iv = self.model.item_vectors(items)
        logits = self.model.combine(uv, iv)
        if not self.with_penalty:
            return logits, logits.new_zeros(())
        penalty = sum(v.pow(2).sum() for v in (*uv, *iv)) / max(1, users.shape[0])
        return logits, penalty  # type: ignore[return-value]
