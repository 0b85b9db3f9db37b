"""I-AutoRec: the forward pass against hand-computed values, the item-grouped ratings, learning on a
fixture, exact resume after an interrupted run, persistence and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from nextwatch.cli import main
from nextwatch.data.dataset import Dataset
from nextwatch.errors import InputError, NextwatchError
from nextwatch.evaluation.protocols import evaluate
from nextwatch.evaluation.splits import get_split, train_view
from nextwatch.models import create_model, load_model
from nextwatch.models.autorec import AutoRecModel, AutoRecNet, ItemRatings
from nextwatch.models.config import AutoRecConfig
from nextwatch.models.ncf.trainer import Parallel
from nextwatch.models.ncf.training import Callbacks

SMALL = {"hidden": 8, "epochs": 3, "batch_size": 4, "learning_rate": 0.01, "reg": 1.0}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_forward_matches_hand_computed_values() -> None:
    net = AutoRecNet(n_users=3, n_items=2, hidden=2)
    w = np.array([[0.5, -1.0], [0.25, 0.0], [-0.5, 2.0]], np.float32)
    c = np.array([0.1, -0.2], np.float32)
    v = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]], np.float32)
    b = np.array([3.0, 2.5, 1.0], np.float32)
    with torch.no_grad():
        for p, a in zip(
            (net.encoder, net.encoder_bias, net.decoder, net.decoder_bias), (w, c, v, b), strict=True
        ):
            p.copy_(torch.from_numpy(a))
    # item 0 rated 4 by user 0 and 2 by user 2; item 1 rated 5 by user 1
    dense = np.array([[4.0, 0.0, 2.0], [0.0, 5.0, 0.0]], np.float32)
    x = torch.from_numpy(dense).to_sparse()
    h = sigmoid(dense @ w + c)  # item 0: sigmoid([2-1+0.1, -4+4-0.2]) = sigmoid([1.1, -0.2])
    np.testing.assert_allclose(h[0], sigmoid(np.array([1.1, -0.2])), rtol=1e-6)
    codes = net.encode(x)
    np.testing.assert_allclose(codes.detach().numpy(), h, rtol=1e-6)
    rows, users = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2])
    got = net.reconstruct(codes, rows, users).detach().numpy()
    want = [h[0] @ v[0] + b[0], h[0] @ v[1] + b[1], h[1] @ v[2] + b[2]]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # the penalty is |W|^2 + |V|^2 (biases unpenalised)
    assert float(net.penalty().detach()) == pytest.approx(float((w**2).sum() + (v**2).sum()), rel=1e-6)


def test_item_ratings_group_by_item_and_average_repeats(make_dataset) -> None:  # type: ignore[no-untyped-def]
    # user 1 rated item 2 twice (3 then 5): one entry, the mean 4
    ds = make_dataset([0, 1, 1, 2, 1], [2, 0, 2, 2, 2], [1.0, 2.0, 3.0, 4.0, 5.0], n_items=3)
    data = ItemRatings.from_dataset(ds)
    assert len(data) == 4 and data.indptr.tolist() == [0, 1, 1, 4]
    x, rows, users, ratings = data.batch(np.array([2, 1, 0]))
    assert rows.tolist() == [0, 0, 0, 2] and users.tolist() == [0, 1, 2, 1]
    assert ratings.tolist() == [1.0, 4.0, 4.0, 2.0]
    np.testing.assert_array_equal(x.to_dense().numpy(), [[1.0, 4.0, 4.0], [0, 0, 0], [0, 2.0, 0]])
    part = data.subset(np.array([True, False, True, False]))  # (item 0, user 1) and (item 2, user 1)
    assert part.indptr.tolist() == [0, 1, 1, 2] and part.users.tolist() == [1, 1]
    np.testing.assert_array_equal(part.batch(np.array([2]))[0].to_dense().numpy(), [[0, 4.0, 0]])


def test_learns_ratings_better_than_the_item_mean(clustered_large: Dataset) -> None:
    split = get_split(clustered_large, "ratings-holdout")
    train = train_view(clustered_large, split)
    settings = {"hidden": 16, "epochs": 60, "batch_size": 2, "learning_rate": 0.01, "reg": 1.0}
    model = create_model("autorec", device="cpu", **settings).fit(train)
    pop = create_model("pop", "explicit").fit(train)
    rmse = evaluate(model, clustered_large, "holdout-ratings", split=split)["RMSE"]
    base = evaluate(pop, clustered_large, "holdout-ratings", split=split)["RMSE"]
    # the item means blur the two taste groups (4-5 from one group, 1-2 from the other); a model that
    # tells them apart is left with the 4-or-5 noise (RMSE 0.5); seen: 0.70 against 1.24
    assert rmse < 0.6 * base, (rmse, base)
    assert [h.epoch for h in model.history] == list(range(1, len(model.history) + 1))
    assert model.history[-1].loss < model.history[0].loss


def test_early_stopping_keeps_the_epoch_that_predicts_held_out_ratings_best(clustered_large: Dataset) -> None:
    # a rate this high overfits the fixture within a few epochs: the run stops and keeps the best epoch
    settings = {
        "hidden": 32,
        "epochs": 200,
        "batch_size": 2,
        "learning_rate": 0.05,
        "reg": 0.0,
        "patience": 3,
    }
    model = create_model("autorec", device="cpu", **settings).fit(clustered_large)
    stop = model.provenance["early_stopping"]
    assert stop["held_out_ratings"] == pytest.approx(
        0.05 * len(ItemRatings.from_dataset(clustered_large)), rel=0.3
    )
    assert stop["epochs_run"] == stop["best_epoch"] + 3 < 200 and len(model.history) == stop["epochs_run"]
    # the kept weights are the best epoch's: re-running only that many epochs without early stopping's
    # restore gives the same held-out error
    again = create_model("autorec", device="cpu", **{**settings, "epochs": stop["best_epoch"]}).fit(
        clustered_large
    )
    assert again.provenance["early_stopping"]["held_out_rmse"] == stop["held_out_rmse"]
    for key, value in model.module.state_dict().items():  # type: ignore[union-attr]
        if key != "item_codes":
            assert torch.equal(value, again.module.state_dict()[key]), key  # type: ignore[union-attr]
    # switched off, every epoch runs on every rating
    off = create_model("autorec", device="cpu", **{**settings, "epochs": 4, "stop_fraction": 0.0}).fit(
        clustered_large
    )
    assert len(off.history) == 4 and "early_stopping" not in off.provenance


def test_scores_stay_on_the_rating_scale_and_rows_match_pairs(clustered_module: Dataset) -> None:
    model = create_model("autorec", device="cpu", **SMALL).fit(clustered_module)
    rows = model.score_all([0, 1, 2])
    assert np.nanmin(rows) >= 1.0 and np.nanmax(rows) <= 5.0
    items = np.arange(clustered_module.n_items)
    np.testing.assert_allclose(rows[1], model.score(np.full(len(items), 1), items), rtol=1e-6)


class Stop(Exception):
    pass


class StopAfter(Callbacks):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_end(self, stage, stats, module) -> None:  # type: ignore[no-untyped-def]
        if stats.epoch == self.epoch:
            raise Stop


def test_an_interrupted_run_resumes_to_the_uninterrupted_weights(
    clustered_module: Dataset, tmp_path: Path
) -> None:
    whole = create_model("autorec", device="cpu", **SMALL).fit(clustered_module)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Stop):
        create_model("autorec", device="cpu", **SMALL).fit(
            clustered_module, checkpoint_dir=ckpt, callbacks=StopAfter(1)
        )
    assert torch.load(ckpt / "0-autorec.pt", weights_only=True)["epochs_done"] == 1
    resumed = create_model("autorec", device="cpu", **SMALL).fit(
        clustered_module, checkpoint_dir=ckpt, resume=True
    )
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    for key, value in whole.module.state_dict().items():  # type: ignore[union-attr]
        assert torch.equal(value, resumed.module.state_dict()[key]), key  # type: ignore[union-attr]
    # a checkpoint of other settings is refused, not silently continued
    other = create_model("autorec", device="cpu", **{**SMALL, "reg": 2.0})
    with pytest.raises(NextwatchError, match="other settings"):
        other.fit(clustered_module, checkpoint_dir=ckpt, resume=True)


def test_save_load_round_trip_gives_identical_scores(clustered_module: Dataset, tmp_path: Path) -> None:
    model = create_model("autorec", device="cpu", **SMALL).fit(clustered_module)
    model.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert isinstance(back, AutoRecModel) and back.config == model.config
    users = np.arange(clustered_module.n_users)
    np.testing.assert_array_equal(back.score_all(users), model.score_all(users))


def test_implicit_objective_and_distributed_runs_are_refused(clustered_module: Dataset) -> None:
    with pytest.raises(InputError, match="explicit objective only"):
        AutoRecConfig.defaults("implicit")
    model = create_model("autorec", device="cpu", **SMALL)
    with pytest.raises(NextwatchError, match="one process"):
        model.fit(clustered_module, parallel=Parallel(rank=0, world_size=2))


def test_cli_trains_autorec_on_ratings_by_default(clustered_module: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "model"
    args = ["train", str(clustered_module.path), "--model", "autorec", "--out", str(out), "--factors", "6"]
    args += ["--epochs", "2", "--batch-size", "8", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["objective"] == "explicit" and summary["holdout-ratings"]["RMSE"] > 0
    assert json.loads((out / "config.json").read_text())["hidden"] == 6
    assert (out / "loss.png").is_file() and not (tmp_path / "model.checkpoints").exists()
    refused = CliRunner().invoke(main, [*args[:6], "--objective", "implicit", "--out", str(tmp_path / "x")])
    assert refused.exit_code != 0 and "explicit objective only" in refused.output


def test_serving_an_autorec_model_is_refused_with_a_reason(clustered_module: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "model"
    args = ["train", str(clustered_module.path), "--model", "autorec", "--out", str(out), "--split", "none"]
    assert CliRunner().invoke(main, [*args, "--epochs", "1", "--factors", "4"]).exit_code == 0
    result = CliRunner().invoke(main, ["recommend", str(out), "--like", "Movie 1"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)  # a handled error
    assert "cannot fold in new people" in result.output and "Traceback" not in result.output
