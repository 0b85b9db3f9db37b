"""Peer runner: RecBole's NeuMF (and BPR) for top-N, in its own venv (.venv-recbole: numpy<2, pandas<3).

Run by benchmarks/quality.py as ``python run_recbole.py JOB.json`` with
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1. The training split is written as RecBole *atomic files* under a
custom dataset name (``nwbench``) in a scratch folder, using RecBole's pre-split layout
(``nwbench.train.inter`` / ``.valid.inter`` / ``.test.inter``), so RecBole never downloads anything and
trains on exactly the shared training data. Only the ``train`` part is trained on; the valid/test
files hold the held-out pairs so that RecBole's vocabulary covers every item, and RecBole's own
evaluation is never used. Training runs epoch by epoch through RecBole's ``Trainer._train_epoch``;
at each requested epoch count the model's ``predict`` scores every item for every user.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import numpy as np
from _common import Result, Timer, checkpoints, main, read_interactions, score_users

DATASET = "nwbench"


def versions() -> dict[str, str]:
    import pandas
    import recbole
    import torch

    return {
        "recbole": recbole.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
    }


def _write_atomic(folder: str, train: dict[str, np.ndarray], heldout: dict[str, np.ndarray]) -> None:
    os.makedirs(os.path.join(folder, DATASET), exist_ok=True)
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"

    def write(name: str, cols: dict[str, np.ndarray]) -> None:
        with open(os.path.join(folder, DATASET, f"{DATASET}.{name}.inter"), "w", encoding="utf-8") as f:
            f.write(header)
            for u, i, r, t in zip(
                cols["user_idx"], cols["item_idx"], cols["rating"], cols["timestamp"], strict=True
            ):
                f.write(f"{int(u)}\t{int(i)}\t{float(r)}\t{float(t)}\n")

    write("train", train)
    write("valid", heldout)
    write("test", heldout)


def run(
    job: dict[str, Any], model: str, params: dict[str, Any], seed: int, train: dict[str, np.ndarray]
) -> Iterator[Result]:
    if job["task"] != "topn":
        raise ValueError("RecBole is benchmarked on top-N only")
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.data.interaction import Interaction
    from recbole.trainer import Trainer
    from recbole.utils import get_model, init_seed

    threads = int(job.get("threads", 0))
    if threads:
        torch.set_num_threads(threads)
    scratch = tempfile.mkdtemp(prefix="recbole-", dir=job.get("scratch"))
    _write_atomic(scratch, train, read_interactions(job["heldout"]))
    epochs = checkpoints(params, "epochs")
    cfg: dict[str, Any] = {
        "data_path": scratch,
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
        "checkpoint_dir": os.path.join(scratch, "saved"),
        "use_gpu": False,
        "device": "cpu",
        "seed": seed,
        "reproducibility": True,
        "show_progress": False,
        "save_dataset": False,
        "save_dataloaders": False,
        "state": "ERROR",
        "epochs": epochs[-1],
        "learning_rate": float(params["learning_rate"]),
        "train_batch_size": int(params.get("train_batch_size", 256)),
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": int(params.get("neg", 4))},
        "eval_args": {"mode": "full", "order": "RO", "group_by": "user"},
        "metrics": ["Recall"],
        "topk": [10],
        "valid_metric": "Recall@10",
        "worker": 0,
    }
    if model == "NeuMF":
        k = int(params["embedding_size"])
        cfg.update(
            mf_embedding_size=k,
            mlp_embedding_size=k,
            mlp_hidden_size=[int(x) for x in params.get("mlp_hidden_size", [2 * k, k, k // 2])],
            dropout_prob=float(params.get("dropout_prob", 0.0)),
            mf_train=True,
            mlp_train=True,
            use_pretrain=False,
        )
    elif model == "BPR":
        cfg.update(embedding_size=int(params["embedding_size"]))
        cfg["train_neg_sample_args"] = {"distribution": "uniform", "sample_num": 1}
    else:
        raise ValueError(f"unknown RecBole model {model!r}")
    if "weight_decay" in params:
        cfg["weight_decay"] = float(params["weight_decay"])
    saved_argv, sys.argv = sys.argv, sys.argv[:1]  # RecBole's Config parses sys.argv itself
    try:
        config = Config(model=model, dataset=DATASET, config_dict=cfg)
    finally:
        sys.argv = saved_argv
    init_seed(seed, True)
    dataset = create_dataset(config)
    train_data, _valid, _test = data_preparation(config, dataset)
    net = get_model(model)(config, train_data._dataset).to(config["device"])
    trainer = Trainer(config, net)

    tokens = dataset.field2id_token["item_id"]  # RecBole item id -> our item index (as a string); 0 is [PAD]
    rb_items = np.arange(1, len(tokens), dtype=np.int64)
    our_items = np.array([int(t) for t in tokens[1:]], dtype=np.int64)
    user_tok = {tok: n for n, tok in enumerate(dataset.field2id_token["user_id"])}
    users = score_users(job)
    timer = Timer()
    done = 0
    for target in epochs:
        with timer:
            net.train()
            for epoch in range(done, target):
                trainer._train_epoch(train_data, epoch, show_progress=False)
        done = target
        net.eval()
        out = np.full((len(users), job["n_items"]), np.nan, dtype=np.float32)
        with torch.no_grad():
            for row, u in enumerate(users.tolist()):
                rb_u = user_tok.get(str(u))
                if rb_u is None:
                    continue
                inter = Interaction(
                    {
                        "user_id": torch.full((len(rb_items),), rb_u, dtype=torch.long),
                        "item_id": torch.from_numpy(rb_items),
                    }
                )
                out[row, our_items] = net.predict(inter).numpy()
        yield dict(params, epochs=target), timer.seconds, out


if __name__ == "__main__":
    main(run, versions)
