"""``nextwatch demo``: the bundled sample, ingested once into a workspace and summarised.

The sample (``data/sample``: MovieLens latest-small ratings and the Netflix titles catalogue, see its
``SOURCES.md``) is found beside the package, or through ``NEXTWATCH_SAMPLE_DIR``. The first run
ingests it into ``WORKDIR/dataset``; later runs reuse that dataset as long as its manifest records the
same sample files (by sha256), the same dataset schema version and the same nextwatch version, so a
second start is instant.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

import nextwatch
from nextwatch.errors import NextwatchError
from nextwatch.io import sha256_file

log = logging.getLogger(__name__)
console = Console()

#: Environment variable naming the sample folder (overrides the one beside the package).
SAMPLE_ENV = "NEXTWATCH_SAMPLE_DIR"
#: The sample's sources, relative to the sample folder: the ratings source first, then catalogues.
SAMPLE_SOURCES = ("ml-latest-small", "netflix_titles.csv")
#: The dataset folder inside the workspace.
DATASET_NAME = "dataset"
MODEL_NAME = "model"


def default_sample_dir() -> Path:
    """``NEXTWATCH_SAMPLE_DIR`` if set, else ``data/sample`` at the root of the source tree / install."""
    env = os.environ.get(SAMPLE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(nextwatch.__file__).resolve().parents[2] / "data" / "sample"


def sample_sources(sample: Path) -> list[Path]:
    """The sample's source paths (ratings folder, catalogue file); raises when any is missing."""
    paths = [sample / rel for rel in SAMPLE_SOURCES]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise NextwatchError(
            f"the bundled sample is incomplete or absent: missing {', '.join(missing)}",
            hint=f"run from a nextwatch source checkout, or set {SAMPLE_ENV} to a folder holding "
            + " and ".join(SAMPLE_SOURCES),
        )
    return paths


def _sample_files(sample: Path) -> dict[str, str]:
    """Every file of the sample's sources: file name -> sha256."""
    files: dict[str, str] = {}
    for src in sample_sources(sample):
        for f in sorted(src.rglob("*")) if src.is_dir() else [src]:
            if f.is_file():
                files[f.name] = sha256_file(f)
    return files


def dataset_is_current(dataset: Path, sample: Path) -> bool:
    """Whether ``dataset`` was ingested from exactly these sample files by this nextwatch.

    Every source file the manifest records must still be in the sample with the same sha256, and
    the schema and nextwatch versions must match; anything unreadable counts as stale.
    """
    from nextwatch.data.store import read_manifest

    if not (dataset / "manifest.json").is_file():
        return False
    try:
        manifest = read_manifest(dataset)
    except (NextwatchError, ValueError, OSError) as e:
        log.info("rebuilding the demo dataset: %s", e)
        return False
    if manifest.get("nextwatch_version") != nextwatch.__version__:
        log.info("rebuilding the demo dataset: written by nextwatch %s", manifest.get("nextwatch_version"))
        return False
    recorded = manifest.get("sources") or []
    current = _sample_files(sample)
    if not recorded:
        return False
    for rec in recorded:
        name = Path(str(rec.get("path", ""))).name
        if current.get(name) != rec.get("sha256"):
            log.info("rebuilding the demo dataset: %s changed", name)
            return False
    return True


def prepare_dataset(sample: Path, workdir: Path, *, force: bool = False) -> tuple[Path, bool]:
    """Ingest the sample into ``workdir/dataset`` unless a current one is there.

    Returns the dataset folder and whether an existing dataset was reused.
    """
    from nextwatch.data.ingest import ingest

    dataset = workdir / DATASET_NAME
    sources = sample_sources(sample)
    if not force and dataset_is_current(dataset, sample):
        return dataset, True
    ingest(sources, dataset)
    return dataset, False


def _print_summary(info: dict[str, Any], dataset: Path, reused: bool) -> None:
    verb = "reusing" if reused else "ingested"
    console.print(f"[bold green]{verb}[/] {dataset}  (fingerprint {info['fingerprint']})")
    console.print(
        f"  {info['n_users']:,} users, {info['n_items']:,} movies, {info['n_interactions']:,} ratings; "
        f"{info['n_items_with_description']:,} movies with a description"
    )
    for link in info["linking"]:
        console.print(
            f"  linked {link['catalogue']}: {link['n_matched']:,} of {link['n_items']:,} movies "
            f"({100 * link['match_rate']:.1f}%) got a description"
        )
    if info["top_genres"]:
        t = Table(title="top genres (movies)")
        t.add_column("genre")
        t.add_column("movies", justify="right")
        for genre, count in info["top_genres"]:
            t.add_row(genre, f"{count:,}")
        console.print(t)


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Workspace folder; the dataset goes to WORKDIR/dataset and is reused on later runs.",
)
@click.option(
    "--sample",
    "sample_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Sample folder (default: data/sample beside the package, or ${SAMPLE_ENV}).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web page will listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port for the web page."
)
@click.option("--force", is_flag=True, help="Rebuild the dataset and the model even if current.")
@click.option(
    "--stop-after",
    type=click.Choice(["dataset", "model", "serve"]),
    default="serve",
    show_default=True,
    help="Build up to this step and stop (dataset: ingest only; model: also train and embed).",
)
@click.option("--threads", default=4, show_default=True, help="Server threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the dataset summary as JSON.")
def demo(
    workdir: Path,
    sample_dir: Path | None,
    host: str,
    port: int,
    force: bool,
    stop_after: str,
    threads: int,
    as_json: bool,
) -> None:
    """Try nextwatch on the bundled sample (MovieLens latest-small + Netflix titles) in the browser.

    Builds what is missing, with progress, then serves the web page on http://HOST:PORT:
    the dataset (WORKDIR/dataset), a NeuMF model trained on all its ratings (WORKDIR/model), and the
    Sentence-BERT embeddings and index of the descriptions (beside the dataset). Every step is reused
    on later runs while its inputs are unchanged, so a second start is up in seconds.
    """
    from nextwatch.data.summary import summarize

    sample = sample_dir if sample_dir is not None else default_sample_dir()
    if not as_json:
        console.print(f"sample: {sample}")
    dataset, reused = prepare_dataset(sample, workdir, force=force)
    info = summarize(dataset)
    if as_json:
        keys = (
            "fingerprint",
            "n_users",
            "n_items",
            "n_interactions",
            "n_items_with_description",
            "top_genres",
        )
        payload = {"dataset": str(dataset), "reused": reused} | {k: info[k] for k in keys}
        payload["linking"] = [
            {k: link[k] for k in ("catalogue", "n_items", "n_matched", "match_rate", "by_method")}
            for link in info["linking"]
        ]
        click.echo(json.dumps(payload))
    else:
        _print_summary(info, dataset, reused)
    if stop_after == "dataset":
        return
    model = prepare_model(dataset, workdir, force=force)
    from nextwatch.web import create_app
    from nextwatch.web import serve as run_server

    console.print("loading the model, embeddings and index (built on first start) ...")
    app = create_app({"MODEL_DIR": str(model), "INSTANCE_PATH": str(workdir.absolute() / "instance")})
    if stop_after == "model":
        return

    def ready(url: str) -> None:
        console.print(f"[bold green]nextwatch is ready:[/] open {url} (Ctrl-C to stop)")

    run_server(app, host=host, port=port, threads=threads, ready=ready)


def model_is_current(model: Path, dataset: Path) -> bool:
    """A demo model is reused while it was trained, with this code version, on this very dataset."""
    from nextwatch import __version__
    from nextwatch.data.store import read_manifest
    from nextwatch.io import read_json

    meta_file = model / "model.json"
    if not meta_file.is_file():
        return False
    meta = read_json(meta_file)
    want = read_manifest(dataset)["fingerprint"]
    return (meta.get("dataset") or {}).get("fingerprint") == want and meta.get(
        "nextwatch_version"
    ) == __version__


def prepare_model(dataset: Path, workdir: Path, *, force: bool = False) -> Path:
    """Train NeuMF (implicit, tuned defaults, every rating: nothing held out) unless a current one exists."""
    model = workdir / MODEL_NAME
    if not force and model_is_current(model, dataset):
        console.print(f"[bold green]reusing[/] model {model}")
        return model
    from nextwatch.cli.train import checkpoint_dir_for, train

    resume = not force and checkpoint_dir_for(model).exists()  # an interrupted first start continues
    console.print(f"training NeuMF on {dataset} -> {model}" + (" (resuming)" if resume else ""))
    click.get_current_context().invoke(
        train, dataset_dir=dataset, out=model, split="none", no_eval=True, resume=resume
    )
    return model


def register(main: click.Group) -> None:
    main.add_command(demo)
