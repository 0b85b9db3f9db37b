"""``nextwatch serve``: the web page on waitress, a production WSGI server."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port; the URL is printed).",
)
@click.option(
    "--workers",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Worker threads. waitress is one process with N threads; for several processes "
    "run gunicorn (see docs/web.md).",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model folder to serve (else NEXTWATCH_MODEL_DIR or MODEL_DIR in the settings file).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (.toml, .json or .py); else NEXTWATCH_CONFIG.",
)
@click.option(
    "--profile-store",
    default=None,
    help="Profiles: a SQLite file or a SQLAlchemy URL (else NEXTWATCH_PROFILE_STORE; "
    "default INSTANCE/profiles.sqlite3).",
)
def serve(
    host: str,
    port: int,
    workers: int,
    model_dir: Path | None,
    config_file: Path | None,
    profile_store: str | None,
) -> None:
    """Serve the web page and the JSON API (/api/v1) for a trained model.

    The model, its embeddings and index are loaded once at start; the profile cookie's secret key
    comes from NEXTWATCH_SECRET_KEY / the settings file, or is generated once into the instance
    folder (var/instance, or NEXTWATCH_INSTANCE_PATH) so profiles survive a restart.
    """
    from nextwatch.web import create_app
    from nextwatch.web import serve as run_server

    app = create_app(
        {
            "MODEL_DIR": str(model_dir) if model_dir is not None else None,
            "CONFIG_FILE": str(config_file) if config_file is not None else None,
            "PROFILE_STORE": profile_store,
        }
    )

    def ready(url: str) -> None:
        click.echo(f"nextwatch serving on {url} ({workers} threads); press Ctrl-C to stop", err=False)

    run_server(app, host=host, port=port, threads=workers, ready=ready)


def register(main: click.Group) -> None:
    main.add_command(serve)
