"""Device choice in one place: setting -> NEXTWATCH_DEVICE -> CUDA when present -> CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextwatch.data.dataset import Dataset
from nextwatch.device import configure_threads, resolve_device
from nextwatch.errors import NextwatchError
from nextwatch.models import create_model


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("NEXTWATCH_DEVICE", raising=False)
    return monkeypatch


def test_cpu_without_a_gpu(no_env: pytest.MonkeyPatch) -> None:
    no_env.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")


def test_cuda_is_chosen_when_present(no_env: pytest.MonkeyPatch) -> None:
    no_env.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device() == torch.device("cuda")
    # an explicit setting wins over the GPU
    assert resolve_device("cpu") == torch.device("cpu")


def test_environment_wins_over_detection_and_loses_to_a_setting(no_env: pytest.MonkeyPatch) -> None:
    no_env.setattr(torch.cuda, "is_available", lambda: True)
    no_env.setenv("NEXTWATCH_DEVICE", "cpu")
    assert resolve_device() == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    no_env.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_asking_for_a_missing_gpu_is_an_error_not_a_silent_cpu_run(no_env: pytest.MonkeyPatch) -> None:
    no_env.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(NextwatchError, match="no CUDA GPU"):
        resolve_device("cuda")
    no_env.setenv("NEXTWATCH_DEVICE", "cuda")
    with pytest.raises(NextwatchError, match="NEXTWATCH_DEVICE"):
        resolve_device()
    with pytest.raises(NextwatchError, match="unknown device"):
        resolve_device("gpu please")


def test_thread_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("NEXTWATCH_THREADS", "1")
        assert configure_threads() == 1 and torch.get_num_threads() == 1
        assert configure_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_training_and_scoring_on_cuda(clustered: Dataset, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = create_model(
        "neumf", "implicit", device="cuda", epochs=1, embedding_size=4, layers=[8, 4], pretrain_epochs=1
    )
    model.fit(clustered)
    assert next(model.module.parameters()).device.type == "cuda"  # type: ignore[attr-defined]
    model.save(tmp_path / "m")
    from nextwatch.models import load_model

    on_cpu = load_model(tmp_path / "m", device="cpu")
    users = np.arange(clustered.n_users)
    np.testing.assert_allclose(on_cpu.score_all(users), model.score_all(users), rtol=1e-4, atol=1e-4)
