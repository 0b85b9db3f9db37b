"""``nextwatch train``: train a model on a dataset's stored split and write a self-describing folder.

MODEL_DIR ends up holding ``model.json`` (model type, dataset path and fingerprint, split, code
version, training time), ``config.json``, ``state.npz`` (id maps, counts), ``seen_indptr.npy`` and
``seen_indices.npy`` (the training users' seen items, memory-mapped on load), ``weights.pt`` (torch
state dict, loaded with ``weights_only=True``), ``metrics.json`` (held-out metrics after training),
``history.json`` and ``loss.png``. The folder is swapped in atomically at the end; per-epoch
checkpoints live in ``MODEL_DIR.checkpoints/`` until then, for ``--resume``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console

from nextwatch.errors import InputError, NextwatchError

log = logging.getLogger(__name__)
console = Console(stderr=True)

MODELS = ("neumf", "gmf", "mlp", "mf", "autorec", "pop")
#: models that predict ratings only: their --objective defaults to explicit
EXPLICIT_ONLY = ("autorec",)
CHECKPOINT_SUFFIX = ".checkpoints"
RUN_FILE = "run.json"
#: options that say what to train; with --resume, given ones must match the interrupted run
HYPER_OPTIONS = ("model", "objective", "split", "eval_on")


def checkpoint_dir_for(out: Path) -> Path:
    """Where the checkpoints of a run writing ``out`` live until it finishes."""
    return out.parent / (out.name + CHECKPOINT_SUFFIX)


def _parse_layers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise InputError(f"--layers {text!r} must be comma-separated integers, e.g. 64,32,16,8") from None


def _parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set {pair!r} must look like KEY=VALUE (VALUE in JSON, e.g. reg=0.001)")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value  # a bare string
    return out


def build_settings(
    model: str,
    *,
    epochs: int | None,
    factors: int | None,
    layers: list[int] | None,
    batch_size: int | None,
    lr: float | None,
    reg: float | None,
    negatives: int | None,
    seed: int | None,
    pretrain: bool | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Map CLI options onto config settings (None = keep the tuned default)."""
    from nextwatch.models.config import tower_for

    s: dict[str, Any] = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": lr,
        "reg": reg,
        "n_negatives": negatives,
        "seed": seed,
    }
    if factors is not None:
        if model in ("gmf", "mf", "neumf"):
            s["embedding_size"] = factors
        if model in ("mlp", "neumf") and layers is None:
            s["layers"] = list(tower_for(factors))
        if model == "autorec":
            s["hidden"] = factors
        if model == "pop":
            raise InputError("--factors does not apply to the pop model")
    if layers is not None:
        if model not in ("mlp", "neumf"):
            raise InputError(f"--layers applies to mlp and neumf, not {model}")
        s["layers"] = layers
    if pretrain is not None:
        if model != "neumf":
            raise InputError("--pretrain applies to neumf only")
        s["pretrain"] = pretrain
    s.update(extra)
    return s


class _ProgressCallbacks:
    """Draw one rich bar per epoch with the running loss and throughput."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task: Any = None
        self.t0 = 0.0
        self.n_epochs = 0
        self.samples = 0

    def stage_start(self, stage: Any, index: int, n_stages: int, samples_per_epoch: int) -> None:
        self.n_epochs = stage.config.epochs
        self.samples = samples_per_epoch

    def epoch_start(self, stage: Any, epoch: int) -> None:
        self.t0 = time.perf_counter()
        self.task = self.progress.add_task(
            f"{stage.name} epoch {epoch}/{self.n_epochs}", total=self.samples, loss=float("nan"), rate=0.0
        )

    def batch_progress(self, done: int, total: int, loss: float) -> None:
        rate = done / max(1e-9, time.perf_counter() - self.t0)
        self.progress.update(self.task, completed=done, loss=loss, rate=rate)

    def epoch_end(self, stage: Any, stats: Any, module: Any) -> None:
        self.progress.update(
            self.task, completed=self.samples, total=self.samples, loss=stats.loss, rate=stats.samples_per_s
        )


def plot_loss(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """Training loss per epoch, one line per stage (like the seed's training-loss figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nextwatch.io import atomic_path

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    stages = list(dict.fromkeys(h["stage"] for h in history))
    for stage in stages:
        rows = [h for h in history if h["stage"] == stage]
        ax.plot([h["epoch"] for h in rows], [h["loss"] for h in rows], marker="o", label=stage)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(stages) > 1:
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def held_out_metrics(model: Any, dataset: Any, split: Any, part: str) -> dict[str, Any]:
    """The protocols that fit the model's split and objective, on ``part``."""
    from nextwatch.evaluation.protocols import evaluate

    if split is None:
        return {"note": "trained on all interactions (--split none): there is nothing held out to evaluate"}
    if split.name == "loo":
        protocols = ["loo-sampled", "loo-full"]
    elif model.objective == "explicit":
        protocols = ["holdout-ratings"]
    else:
        return {"note": "an implicit model on the ratings-holdout split has no fitting protocol"}
    return {p: evaluate(model, dataset, p, split=split, target=part) for p in protocols}


@click.command()
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Model folder to write.")
@click.option("--model", type=click.Choice(MODELS), default="neumf", show_default=True)
@click.option(
    "--objective",
    type=click.Choice(["implicit", "explicit"]),
    help="implicit (top-N) or explicit (ratings) [default: implicit; explicit for autorec].",
)
@click.option(
    "--epochs",
    type=int,
    help="Training epochs (NeuMF: of the final stage; pretraining: --set pretrain_epochs=N).",
)
@click.option("--factors", type=int, help="Predictive factors: embedding size; MLP tower 8f-4f-2f-f.")
@click.option("--layers", help="MLP tower widths, e.g. 64,32,16,8 (first = user+item embedding).")
@click.option("--batch-size", type=int)
@click.option(
    "--lr", type=float, help="Learning rate (NeuMF: of the final stage; --set pretrain_learning_rate=X)."
)
@click.option("--reg", type=float, help="L2 penalty on the embeddings a batch touches.")
@click.option("--negatives", type=int, help="Sampled negatives per positive (implicit).")
@click.option("--seed", type=int)
@click.option(
    "--pretrain/--no-pretrain",
    default=None,
    help="NeuMF: pretrain GMF and MLP first [default: on for implicit, off for explicit].",
)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Any other setting (JSON value).")
@click.option(
    "--split",
    type=click.Choice(["loo", "ratings-holdout", "none"]),
    help="Train on this stored split's training part [default: loo (implicit), ratings-holdout "
    "(explicit)]; none = every interaction, for serving.",
)
@click.option(
    "--eval-on",
    type=click.Choice(["test", "valid"]),
    default="test",
    show_default=True,
    help="Held-out part: test (train on train+valid) or valid (tuning: train on train only).",
)
@click.option(
    "--device", help="cpu, cuda, cuda:N [default: $NEXTWATCH_DEVICE, else CUDA if present, else cpu]."
)
@click.option("--threads", type=int, help="CPU threads for torch [default: the usable cores].")
@click.option("--resume", is_flag=True, help="Continue the interrupted run that was writing --out.")
@click.option("--no-eval", is_flag=True, help="Skip the held-out evaluation after training.")
@click.option("--keep-checkpoints", is_flag=True, help="Keep MODEL_DIR.checkpoints after success.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def train(
    ctx: click.Context,
    dataset_dir: Path,
    out: Path,
    model: str,
    objective: str | None,
    epochs: int | None,
    factors: int | None,
    layers: str | None,
    batch_size: int | None,
    lr: float | None,
    reg: float | None,
    negatives: int | None,
    seed: int | None,
    pretrain: bool | None,
    settings: tuple[str, ...],
    split: str | None,
    eval_on: str,
    device: str | None,
    threads: int | None,
    resume: bool,
    no_eval: bool,
    keep_checkpoints: bool,
    as_json: bool,
) -> None:
    """Train a model on DATASET_DIR and write it to --out.

    \b
    nextwatch train DS --out M                        NeuMF, implicit, loo split, tuned defaults
    nextwatch train DS --model mf --objective explicit --out M
    nextwatch train DS --model autorec --out M        I-AutoRec, ratings
    nextwatch train DS --out M --split none           all data, for serving
    torchrun --nproc_per_node=2 -m nextwatch train DS --out M   DDP, one rank per process
    """
    from nextwatch.data.store import load_dataset
    from nextwatch.distributed import open_session
    from nextwatch.evaluation.splits import get_split, train_view
    from nextwatch.io import atomic_dir, read_json, write_json
    from nextwatch.models import create_model
    from nextwatch.models.torch_model import TorchRecommender
    from nextwatch.progress import make_progress

    if objective is None:
        objective = "explicit" if model in EXPLICIT_ONLY else "implicit"

    # a plain run, or one rank of a torchrun job (process group closed when the command ends)
    session = ctx.with_resource(open_session(device, threads))
    n_threads, dev = session.threads, session.device
    ckpt = checkpoint_dir_for(out)
    run: dict[str, Any] = {
        "model": model,
        "objective": objective,
        "split": split or ("loo" if objective == "implicit" else "ratings-holdout"),
        "eval_on": eval_on,
        "settings": build_settings(
            model,
            epochs=epochs,
            factors=factors,
            layers=_parse_layers(layers),
            batch_size=batch_size,
            lr=lr,
            reg=reg,
            negatives=negatives,
            seed=seed,
            pretrain=pretrain,
            extra=_parse_settings(settings),
        ),
    }
    dataset = load_dataset(dataset_dir)
    if resume:
        if not (ckpt / RUN_FILE).is_file():
            raise NextwatchError(
                f"nothing to resume: {ckpt} holds no interrupted run", hint="start the run without --resume"
            )
        stored = read_json(ckpt / RUN_FILE)
        given = {n for n in HYPER_OPTIONS if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE}
        clash = [n for n in ("model", "objective", "split", "eval_on") if n in given and run[n] != stored[n]]
        clash += [k for k, v in run["settings"].items() if v is not None and stored["settings"].get(k) != v]
        if clash:
            raise InputError(
                "--resume continues the interrupted run with its own settings; these differ: "
                + ", ".join(clash),
                hint="drop those options, or start afresh without --resume",
            )
        if stored.get("dataset_fingerprint") != dataset.fingerprint:
            raise NextwatchError(
                "the dataset changed since the interrupted run started (fingerprint differs)",
                hint="start afresh without --resume",
            )
        run = stored
    recommender = create_model(run["model"], run["objective"], device=str(dev), **run["settings"])
    run["config"] = recommender.config.to_dict()
    run["dataset_fingerprint"] = dataset.fingerprint

    split_obj = None
    train_ds = dataset
    if run["split"] != "none":
        with session.main_first():  # rank 0 computes and stores the split, the others read it
            split_obj = get_split(dataset, run["split"])
        train_ds = train_view(dataset, split_obj, run["eval_on"])

    # trained in epochs, checkpointed after each (resumable)
    resumable = isinstance(recommender, TorchRecommender)
    if resumable and not resume and session.is_main:
        shutil.rmtree(ckpt, ignore_errors=True)
    if resumable and session.is_main:
        ckpt.mkdir(parents=True, exist_ok=True)
        write_json(ckpt / RUN_FILE, run)

    from rich.progress import TextColumn

    t0 = time.perf_counter()
    progress = make_progress(
        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:>9,.0f} samples/s")
    )
    with progress:
        if resumable:
            recommender.fit(
                train_ds,
                checkpoint_dir=ckpt,
                resume=resume,
                callbacks=_ProgressCallbacks(progress),
                **session.fit_options(),
            )
        else:
            recommender.fit(train_ds)
    train_seconds = time.perf_counter() - t0
    if not session.finish(getattr(recommender, "module", None)):
        return  # under torchrun only rank 0 writes, evaluates and reports

    history = [h.to_dict() for h in getattr(recommender, "history", [])]
    recommender.provenance["split"] = (
        {"name": "none"}
        if split_obj is None
        else {"name": split_obj.name, "seed": split_obj.seed, "part": run["eval_on"]}
    )
    recommender.provenance["training"] = {
        "device": str(dev),
        "threads": n_threads,
        "seconds": round(train_seconds, 2),
        "epochs": len(history),
        "mean_samples_per_s": round(sum(h["samples_per_s"] for h in history) / len(history), 1)
        if history
        else None,
        **session.describe(),
    }
    metrics: dict[str, Any] = {"part": run["eval_on"] if split_obj is not None else None}
    if no_eval:
        metrics["note"] = "evaluation skipped (--no-eval); run nextwatch evaluate"
    else:
        metrics.update(held_out_metrics(recommender, dataset, split_obj, run["eval_on"]))
    if history:
        metrics["final_train_loss"] = history[-1]["loss"]

    with atomic_dir(out) as tmp:
        recommender.write(tmp)
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "history.json", history)
        if history:
            plot_loss(
                history, tmp / "loss.png", f"{recommender.name} ({recommender.objective}) training loss"
            )
    if resumable and not keep_checkpoints:
        shutil.rmtree(ckpt, ignore_errors=True)

    summary = {
        "model_dir": str(out),
        "model": recommender.name,
        "objective": recommender.objective,
        **metrics,
    }
    summary["training"] = recommender.provenance["training"]
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    console.print(
        f"[bold green]wrote[/] {out}  ({recommender.name}, {recommender.objective}, {train_seconds:.1f} s)"
    )
    for key, value in metrics.items():
        if isinstance(value, dict):
            figures = ", ".join(f"{k} {v:.4f}" for k, v in value.items() if k[:1].isupper())
            console.print(f"  {key} ({metrics['part']}): {figures}")


def register(main: click.Group) -> None:
    main.add_command(train)
