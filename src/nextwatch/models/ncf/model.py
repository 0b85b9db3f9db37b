"""GMF, MLP, NeuMF and MF as nextwatch models: training through the staged loop, batched scoring,
persistence and the fold-in hooks.

Scores: the implicit objective's score is the logit (log-odds of an interaction); the explicit
objective's is the predicted rating, ``mid + half * tanh(logit)`` mapped back from [-1, 1] to the
dataset's rating scale.

Fold-in (scoring a person the model never saw) goes through :meth:`NCFModel.score_user_vectors`: it
takes user vectors in the shapes :meth:`NCFModel.user_vectors` returns, and scores them against items
with the stored item-side weights, which it never changes. :meth:`NCFModel.item_weights` exposes those
weights (read-only copies) to whatever optimises a new user's vectors.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nextwatch.data.dataset import Dataset
from nextwatch.models.config import GMFConfig, MFConfig, MLPConfig, NeuMFConfig, TrainConfig
from nextwatch.models.ncf import modules
from nextwatch.models.ncf.trainer import Parallel, TrainData, unscale_ratings
from nextwatch.models.ncf.training import Callbacks, Stage, run_stages
from nextwatch.models.torch_model import TorchRecommender

log = logging.getLogger(__name__)

#: pairs scored per forward pass in :meth:`NCFModel.score`
PAIR_CHUNK = 1 << 18
#: budget (in float32 elements) of the largest intermediate of one batched row-scoring step
ROW_BUDGET = 1 << 24


class NCFModel(TorchRecommender):
    """Shared machinery of the NCF family (GMF, MLP, NeuMF, MF)."""

    config: TrainConfig

    # -- building and training ------------------------------------------------------------------------

    def stages(self, n_users: int, n_items: int) -> list[Stage]:
        """The training stages; one by default (NeuMF with pretraining has three)."""
        return [Stage(self.name, self.config, lambda: self.build_module(n_users, n_items))]

    def _fit(
        self,
        dataset: Dataset,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        parallel: Parallel | None = None,
        callbacks: Callbacks | None = None,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(f"unknown fit options: {', '.join(options)}")
        data = TrainData.build(
            dataset.interactions, dataset.n_users, dataset.n_items, self.objective, dataset.rating_scale
        )
        device = self.device
        finished, self.history = run_stages(
            self.stages(dataset.n_users, dataset.n_items),
            data,
            device=device,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            parallel=parallel,
            callbacks=callbacks,
        )
        self.module = finished[self.name]
        self.module.eval()

    # -- scoring --------------------------------------------------------------------------------------

    def _output(self, logits: Tensor) -> np.ndarray:
        """Logits -> scores (see the module docstring)."""
        if self.objective == "explicit":
            scale = self._require_fitted().rating_scale or (-1.0, 1.0)
            return unscale_ratings(torch.tanh(logits).float().cpu().numpy(), scale)
        return logits.float().cpu().numpy()

    def _tensor(self, a: np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(a, np.int64), device=self._module_device())

    @torch.no_grad()
    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        module = self._require_module()
        out = np.empty(len(users), np.float32)
        for start in range(0, len(users), PAIR_CHUNK):
            sl = slice(start, start + PAIR_CHUNK)
            out[sl] = self._output(module(self._tensor(users[sl]), self._tensor(items[sl])))
        return out

    def _row_width(self) -> int:
        """Width of the widest per-(user, item) intermediate in :meth:`score_matrix` (1 for MF/GMF)."""
        return 1

    @torch.no_grad()
    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        module = self._require_module()
        n_items = self._require_fitted().n_items
        items = torch.arange(n_items, device=self._module_device())
        chunk = max(1, ROW_BUDGET // max(1, n_items * self._row_width()))
        out = np.empty((len(users), n_items), np.float32)
        for start in range(0, len(users), chunk):
            sl = slice(start, start + chunk)
            vecs = module.user_vectors(self._tensor(users[sl]))
            out[sl] = self._output(module.score_matrix(vecs, items))
        return out

    # -- fold-in hooks --------------------------------------------------------------------------------

    @torch.no_grad()
    def user_vectors(self, users: np.ndarray | list[int]) -> tuple[np.ndarray, ...]:
        """The stored vectors of ``users`` (copies), in the order :meth:`score_user_vectors` takes them."""
        vecs = self._require_module().user_vectors(self._tensor(np.asarray(users)))
        return tuple(v.detach().cpu().numpy().copy() for v in vecs)

    @torch.no_grad()
    def score_user_vectors(
        self, vectors: tuple[np.ndarray | Tensor, ...], items: np.ndarray | list[int] | None = None
    ) -> np.ndarray:
        """Scores ``[B, M]`` of B users given only by their vectors against ``items`` (all by default).

        Nothing stored is read per user or written: this is how a new person is scored after their
        vectors were fitted (fold-in). Items without training data score NaN.
        """
        module = self._require_module()
        st = self._require_fitted()
        dev = self._module_device()
        vecs = tuple(torch.as_tensor(v, dtype=torch.float32, device=dev) for v in vectors)
        item_arr = np.arange(st.n_items) if items is None else np.asarray(items, np.int64)
        known = st.known_items(item_arr)
        out = np.full((vecs[0].shape[0], len(item_arr)), np.nan, np.float32)
        if known.any():
            out[:, known] = self._output(module.score_matrix(vecs, self._tensor(item_arr[known])))
        return out

    def item_weights(self) -> dict[str, np.ndarray]:
        """Copies of every item-side and shared weight (everything but the user embeddings), by name."""
        module = self._require_module()
        return {
            name: p.detach().cpu().numpy().copy()
            for name, p in module.state_dict().items()
            if "user_" not in name
        }


class GMFModel(NCFModel):
    name = "gmf"
    config_class = GMFConfig
    config: GMFConfig

    def build_module(self, n_users: int, n_items: int) -> nn.Module:
        return modules.GMF(n_users, n_items, self.config.embedding_size)


class MLPModel(NCFModel):
    name = "mlp"
    config_class = MLPConfig
    config: MLPConfig

    def build_module(self, n_users: int, n_items: int) -> nn.Module:
        return modules.MLP(n_users, n_items, self.config.layers)

    def _row_width(self) -> int:
        return max(self.config.layers[1:])


class NeuMFModel(NCFModel):
    name = "neumf"
    config_class = NeuMFConfig
    config: NeuMFConfig

    def build_module(self, n_users: int, n_items: int) -> nn.Module:
        return modules.NeuMF(n_users, n_items, self.config.embedding_size, self.config.layers)

    def _row_width(self) -> int:
        return max(self.config.layers[1:])

    def stages(self, n_users: int, n_items: int) -> list[Stage]:
        cfg = self.config
        if not cfg.pretrain:
            return super().stages(n_users, n_items)

        def init(module: nn.Module, done: dict[str, nn.Module]) -> None:
            assert isinstance(module, modules.NeuMF)
            gmf, mlp = done["gmf"], done["mlp"]
            assert isinstance(gmf, modules.GMF) and isinstance(mlp, modules.MLP)
            module.load_pretrained(gmf, mlp, cfg.alpha)

        gmf_cfg, mlp_cfg = cfg.gmf_config(), cfg.mlp_config()
        return [
            Stage("gmf", gmf_cfg, lambda: modules.GMF(n_users, n_items, gmf_cfg.embedding_size)),
            Stage("mlp", mlp_cfg, lambda: modules.MLP(n_users, n_items, mlp_cfg.layers)),
            Stage(self.name, cfg, lambda: self.build_module(n_users, n_items), init),
        ]


class MFModel(NCFModel):
    name = "mf"
    config_class = MFConfig
    config: MFConfig

    def build_module(self, n_users: int, n_items: int) -> nn.Module:
        return modules.MF(n_users, n_items, self.config.embedding_size)
