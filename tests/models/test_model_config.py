"""Typed configs: validation, unknown keys rejected, JSON round trip, per-objective defaults."""

from __future__ import annotations

import json

import pytest

from nextwatch.errors import InputError
from nextwatch.models.config import GMFConfig, MLPConfig, NeuMFConfig, PopConfig, tower_for


def test_json_round_trip_keeps_every_setting() -> None:
    cfg = NeuMFConfig(embedding_size=16, layers=(128, 64, 32, 16), pretrain=True, learning_rate=0.002, seed=3)
    again = NeuMFConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.layers == (128, 64, 32, 16)  # JSON list back to a tuple


def test_unknown_keys_are_rejected_with_the_known_ones_named() -> None:
    with pytest.raises(InputError, match="learnig_rate") as err:
        GMFConfig.from_dict({"learnig_rate": 0.1})
    assert "learning_rate" in str(err.value)


@pytest.mark.parametrize(
    ("klass", "data", "match"),
    [
        (GMFConfig, {"epochs": "ten"}, "integer"),
        (GMFConfig, {"epochs": 2.5}, "integer"),
        (GMFConfig, {"learning_rate": -1.0}, "learning_rate"),
        (GMFConfig, {"objective": "ratings"}, "implicit"),
        (MLPConfig, {"layers": [63, 8]}, "even"),
        (MLPConfig, {"layers": [64]}, "two"),
        (NeuMFConfig, {"alpha": 1.5}, "alpha"),
        (NeuMFConfig, {"pretrain": "yes"}, "true or false"),
        (PopConfig, {"damping": -1}, "damping"),
        (GMFConfig, {"lr_decay": 0.0}, "lr_decay"),
        (GMFConfig, {"seed": -1}, "seed"),
    ],
)
def test_bad_values_are_rejected(klass, data, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=match):
        klass.from_dict(data)


def test_ints_are_accepted_for_floats() -> None:
    assert GMFConfig.from_dict({"learning_rate": 1}).learning_rate == 1.0


def test_explicit_defaults_differ_and_overrides_win() -> None:
    implicit = NeuMFConfig.defaults("implicit")
    explicit = NeuMFConfig.defaults("explicit", epochs=3, reg=None)
    assert implicit.objective == "implicit" and explicit.objective == "explicit"
    assert explicit.epochs == 3
    for key, value in NeuMFConfig.EXPLICIT_DEFAULTS.items():
        if key != "epochs":
            assert getattr(explicit, key) == (tuple(value) if isinstance(value, list) else value)


def test_tower_for_is_the_paper_tower() -> None:
    assert tower_for(8) == (64, 32, 16, 8)


def test_pretraining_stages_inherit_the_neumf_settings() -> None:
    cfg = NeuMFConfig(
        embedding_size=4,
        layers=(32, 16, 8),
        epochs=7,
        pretrain_epochs=2,
        batch_size=64,
        pretrain_batch_size=None,
        seed=9,
    )
    g, m = cfg.gmf_config(), cfg.mlp_config()
    assert (g.embedding_size, g.epochs, g.batch_size, g.seed) == (4, 2, 64, 9)
    assert (m.layers, m.epochs) == ((32, 16, 8), 2)
    assert cfg.replace(pretrain_batch_size=16).gmf_config().batch_size == 16
