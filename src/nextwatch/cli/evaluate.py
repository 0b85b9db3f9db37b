"""``nextwatch evaluate``: run an evaluation protocol on a trained model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from nextwatch.errors import InputError, NextwatchError
from nextwatch.evaluation.protocols import PROTOCOL_SPLIT, PROTOCOLS

console = Console()


def check_protocol(model_split: dict[str, Any], protocol: str, part: str) -> None:
    """Refuse evaluations whose held-out data the model trained on."""
    name = model_split.get("name")
    if name == "none":
        raise NextwatchError(
            "this model was trained on every interaction (--split none): held-out metrics would mean nothing",
            hint="train with --split loo or --split ratings-holdout to evaluate",
        )
    if name is None:
        raise NextwatchError("the model folder does not record its split; retrain it with this nextwatch")
    needed = PROTOCOL_SPLIT[protocol]
    if name != needed:
        raise NextwatchError(
            f"protocol {protocol} holds out the {needed} split, but this model trained on the {name} split "
            "(so it has seen some of those held-out interactions)",
            hint=f"train with --split {needed}, or pick a protocol of the {name} split",
        )
    if part == "valid" and model_split.get("part") == "test":
        raise NextwatchError(
            "this model trained on the validation part too (it was trained for the test part)",
            hint="train with --eval-on valid to evaluate on the validation part",
        )


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("dataset_dir", type=click.Path(path_type=Path), required=False)
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    help="[default: loo-sampled for a loo model, holdout-ratings for a ratings-holdout model]",
)
@click.option(
    "--part", type=click.Choice(["test", "valid"]), help="[default: the part the model was trained for]"
)
@click.option(
    "--device", help="cpu, cuda, cuda:N [default: $NEXTWATCH_DEVICE, else CUDA if present, else cpu]."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def evaluate(
    model_dir: Path,
    dataset_dir: Path | None,
    protocol: str | None,
    part: str | None,
    device: str | None,
    as_json: bool,
) -> None:
    """Evaluate the model in MODEL_DIR on its dataset's held-out part.

    DATASET_DIR defaults to the dataset the model records; either way its fingerprint must match.
    """
    from nextwatch.data.store import load_dataset
    from nextwatch.device import configure_threads
    from nextwatch.evaluation.protocols import evaluate as run_protocol
    from nextwatch.models import load_model

    configure_threads()
    model = load_model(model_dir, device=device)
    recorded = model.provenance.get("dataset", {})
    if dataset_dir is None:
        if not recorded.get("path"):
            raise InputError("the model does not record its dataset's folder; give DATASET_DIR")
        dataset_dir = Path(recorded["path"])
    dataset = load_dataset(dataset_dir)
    if recorded.get("fingerprint") and recorded["fingerprint"] != dataset.fingerprint:
        raise NextwatchError(
            f"{dataset_dir} is not the dataset this model was trained on (fingerprint "
            f"{dataset.fingerprint}, the model records {recorded['fingerprint']})",
        )
    model_split = model.provenance.get("split", {})
    if protocol is None:
        protocol = "holdout-ratings" if model_split.get("name") == "ratings-holdout" else "loo-sampled"
    part = part or model_split.get("part") or "test"
    check_protocol(model_split, protocol, part)
    if int(model_split.get("seed", 0)) != 0:
        from nextwatch.evaluation.splits import get_split

        split = get_split(dataset, PROTOCOL_SPLIT[protocol], int(model_split["seed"]))
    else:
        split = None
    result = run_protocol(model, dataset, protocol, split=split, target=part)  # type: ignore[arg-type]
    result = {"model_dir": str(model_dir), "model": model.name, "objective": model.objective, **result}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"{model.name} ({model.objective}) — {protocol}, {part} part")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("model_dir", "model", "objective", "protocol", "part"):
            continue
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def register(main: click.Group) -> None:
    main.add_command(evaluate)
