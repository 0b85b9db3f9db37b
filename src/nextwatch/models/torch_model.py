"""What every nextwatch model built on a PyTorch module shares: its device, the trained module and its
epoch history, and persistence of the module's weights (``weights.pt``, a state dict of tensors, read
back with ``weights_only=True``: no arbitrary pickle)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nextwatch.device import resolve_device
from nextwatch.errors import NextwatchError
from nextwatch.io import atomic_path
from nextwatch.models.base import Recommender
from nextwatch.models.config import EpochConfig
from nextwatch.models.ncf.trainer import EpochStats

WEIGHTS_FILE = "weights.pt"


class TorchRecommender(Recommender):
    """A model whose parameters live in one ``nn.Module``, trained in epochs (checkpointed, resumable)."""

    config: EpochConfig

    def __init__(
        self, config: EpochConfig | None = None, *, device: str | torch.device | None = None
    ) -> None:
        super().__init__(config)
        self._device_setting = device
        self.module: nn.Module | None = None
        self.history: list[EpochStats] = []

    @property
    def device(self) -> torch.device:
        return resolve_device(self._device_setting)

    def build_module(self, n_users: int, n_items: int) -> nn.Module:
        """A fresh, untrained module for this model's config."""
        raise NotImplementedError

    def _require_module(self) -> nn.Module:
        if self.module is None:
            raise NextwatchError(f"the {self.name} model is not trained yet")
        return self.module

    def _module_device(self) -> torch.device:
        return next(self._require_module().parameters()).device

    def _write_weights(self, folder: Path) -> None:
        state = {k: v.detach().cpu() for k, v in self._require_module().state_dict().items()}
        with atomic_path(folder / WEIGHTS_FILE) as tmp:
            torch.save(state, tmp)

    def _read_weights(self, folder: Path, device: str | None) -> None:
        st = self._require_fitted()
        if device is not None:
            self._device_setting = device
        dev = self.device
        try:
            state = torch.load(folder / WEIGHTS_FILE, map_location=dev, weights_only=True)
        except FileNotFoundError as e:
            raise NextwatchError(f"{folder} has no {WEIGHTS_FILE}; the model folder is incomplete") from e
        module = self.build_module(st.n_users, st.n_items)
        module.load_state_dict(state)
        self.module = module.to(dev).eval()
