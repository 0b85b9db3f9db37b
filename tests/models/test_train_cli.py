"""``nextwatch train`` / ``nextwatch evaluate`` end to end on a tiny dataset, including a run killed
with SIGKILL after a checkpoint and resumed to exactly the uninterrupted run's weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nextwatch.cli import main
from nextwatch.data.dataset import Dataset

TINY = ["--factors", "4", "--batch-size", "16", "--threads", "1", "--seed", "5"]


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "weights.pt", weights_only=True)


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_train_writes_a_self_describing_folder_and_evaluate_reproduces_it(
    clustered: Dataset, tmp_path: Path
) -> None:
    out = tmp_path / "neumf"
    code, text = cli("train", clustered.path, "--out", out, "--epochs", "2", "--no-pretrain", *TINY)  # type: ignore[arg-type]
    assert code == 0, text
    for name in ("model.json", "config.json", "state.npz", "weights.pt", "metrics.json", "history.json"):
        assert (out / name).is_file(), name
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "neumf.checkpoints").exists()  # removed after success
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"] == "neumf" and meta["objective"] == "implicit"
    assert meta["dataset"] == {"path": str(clustered.path.resolve()), "fingerprint": clustered.fingerprint}  # type: ignore[union-attr]
    assert meta["split"] == {"name": "loo", "seed": 0, "part": "test"}
    assert meta["code_version"].startswith(meta["nextwatch_version"])
    config = json.loads((out / "config.json").read_text())
    assert config["embedding_size"] == 4 and config["layers"] == [32, 16, 8, 4] and config["epochs"] == 2
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all(h["samples_per_s"] > 0 for h in history)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["part"] == "test"
    # evaluating the saved folder later (dataset taken from model.json) gives the very same figures
    code, text = cli("evaluate", out, "--protocol", "loo-full", "--json")
    assert code == 0, text
    again = json.loads(text)
    for key in ("HR@10", "NDCG@10", "Recall@20", "NDCG@20", "n_users"):
        assert again[key] == metrics["loo-full"][key]
    code, text = cli("evaluate", out, clustered.path, "--json")  # type: ignore[arg-type]
    assert json.loads(text)["HR@10"] == metrics["loo-sampled"]["HR@10"]


def test_explicit_training_is_evaluated_on_the_ratings_holdout(clustered: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "mf"
    code, text = cli(
        "train",
        clustered.path,
        "--out",
        out,
        "--model",
        "mf",
        "--objective",
        "explicit",
        "--epochs",
        "2",
        *TINY,  # type: ignore[arg-type]
    )
    assert code == 0, text
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["holdout-ratings"]) >= {"RMSE", "MAE", "n_ratings"}
    code, text = cli("evaluate", out, "--json")
    assert json.loads(text)["RMSE"] == metrics["holdout-ratings"]["RMSE"]
    # a loo protocol would test on ratings this model trained on
    code, text = cli("evaluate", out, "--protocol", "loo-sampled")
    assert code == 2 and "ratings-holdout split" in text


def test_evaluate_refuses_models_trained_on_everything(clustered: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "pop"
    code, text = cli("train", clustered.path, "--out", out, "--model", "pop", "--split", "none")  # type: ignore[arg-type]
    assert code == 0, text
    assert "nothing held out" in json.loads((out / "metrics.json").read_text())["note"]
    code, text = cli("evaluate", out)
    assert code == 2 and "--split none" in text
    code, text = cli("evaluate", tmp_path / "nowhere")
    assert code == 2 and "not a nextwatch model folder" in text


def test_bad_options_are_clean_errors(clustered: Dataset, tmp_path: Path) -> None:
    code, text = cli("train", clustered.path, "--out", tmp_path / "x", "--model", "pop", "--factors", "3")  # type: ignore[arg-type]
    assert code == 2 and "--factors" in text
    code, text = cli("train", clustered.path, "--out", tmp_path / "x", "--set", "learnig_rate=1")  # type: ignore[arg-type]
    assert code == 2 and "learnig_rate" in text
    code, text = cli("train", clustered.path, "--out", tmp_path / "x", "--resume")  # type: ignore[arg-type]
    assert code == 2 and "nothing to resume" in text


def test_resume_after_sigkill_equals_the_uninterrupted_run(clustered: Dataset, tmp_path: Path) -> None:
    fast = ["--factors", "4", "--batch-size", "32", "--threads", "1", "--seed", "5"]
    args = [
        "train",
        str(clustered.path),
        "--model",
        "neumf",
        "--pretrain",
        "--epochs",
        "3",
        "--no-eval",
        *fast,
    ]
    args += ["--set", "pretrain_epochs=3", "--set", "pretrain_batch_size=32"]
    killed = tmp_path / "killed"
    ckpt = tmp_path / "killed.checkpoints"
    env = {**os.environ, "NEXTWATCH_PROGRESS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nextwatch", *args, "--out", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # kill it hard as soon as the first (GMF pretraining) epoch is checkpointed: 8 epochs remain
    deadline = time.monotonic() + 120
    while not (ckpt / "0-gmf.pt").exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not killed.exists()  # it really died mid-run
    assert not (ckpt / "2-neumf.pt").exists()

    code, text = cli("train", str(clustered.path), "--out", killed, "--resume", "--threads", "1")
    assert code == 0, text
    straight = tmp_path / "straight"
    code, text = cli(*args, "--out", straight)
    assert code == 0, text
    assert same_weights(killed, straight)
    h_killed = json.loads((killed / "history.json").read_text())
    h_straight = json.loads((straight / "history.json").read_text())
    assert [(h["stage"], h["epoch"], h["loss"]) for h in h_killed] == [
        (h["stage"], h["epoch"], h["loss"]) for h in h_straight
    ]


def test_resume_refuses_other_settings(clustered: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "kept"
    code, text = cli(
        "train",
        clustered.path,
        "--out",
        out,
        "--epochs",
        "1",
        "--no-pretrain",
        "--no-eval",
        "--keep-checkpoints",
        *TINY,
    )  # type: ignore[arg-type]
    assert code == 0, text
    code, text = cli("train", clustered.path, "--out", out, "--resume", "--lr", "0.5")  # type: ignore[arg-type]
    assert code == 2 and "learning_rate" in text
    # resuming a finished run trains nothing more and gives the same model
    before = weights(out)
    code, text = cli("train", clustered.path, "--out", out, "--resume", "--no-eval", "--threads", "1")  # type: ignore[arg-type]
    assert code == 0, text
    after = weights(out)
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("model", ["gmf", "mlp", "mf"])
def test_each_model_trains_from_the_cli(model: str, clustered: Dataset, tmp_path: Path) -> None:
    out = tmp_path / model
    code, text = cli(
        "train", clustered.path, "--out", out, "--model", model, "--epochs", "1", "--json", *TINY
    )  # type: ignore[arg-type]
    assert code == 0, text
    summary = json.loads(text[text.index("{") :])
    assert summary["model"] == model and 0.0 <= summary["loo-sampled"]["HR@10"] <= 1.0
