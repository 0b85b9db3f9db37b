"""The web page people use: rounds of five movies, their taste, search, history import; and a JSON API.

In the style of Flask's tutorial: :func:`create_app` builds the app from settings
(:mod:`nextwatch.web.config`), opens the recommender *once* (model, embeddings and index are loaded
at start, never per request) and registers two blueprints, ``pages`` (HTML forms that work without
JavaScript) and ``api`` (``/api/v1``). :func:`serve` runs it on waitress, a production WSGI server
(one process, ``threads`` worker threads); see ``docs/web.md`` for running several processes.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request

from nextwatch.errors import NextwatchError
from nextwatch.web.config import resolve

log = logging.getLogger(__name__)
access_log = logging.getLogger("nextwatch.web.access")

DEFAULT_INSTANCE = Path("var") / "instance"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, secret key, CSRF, the recommender, blueprints and error pages.

    ``config`` overrides every other source of settings (see :mod:`nextwatch.web.config`); pass
    ``RECOMMENDER`` to serve an already-open recommender, else ``MODEL_DIR`` is opened here.
    Raises :class:`NextwatchError` when there is no model to serve or a setting is wrong.
    """
    from nextwatch.web import api, pages
    from nextwatch.web.errors import register_error_handlers
    from nextwatch.web.security import init_security

    settings = resolve(config)
    if settings.get("RECOMMENDER") is None and not settings.get("MODEL_DIR"):
        raise NextwatchError(
            "no model to serve",
            hint="pass --model MODEL_DIR, set NEXTWATCH_MODEL_DIR, or put MODEL_DIR in the settings file",
        )
    instance = Path(settings.get("INSTANCE_PATH") or DEFAULT_INSTANCE).absolute()
    settings["INSTANCE_PATH"] = str(instance)
    app = Flask(__name__, instance_path=str(instance))
    app.config.update(settings)
    instance.mkdir(parents=True, exist_ok=True)
    app.jinja_env.autoescape = True  # every template, whatever its file name
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    init_security(app)
    app.extensions["nextwatch"] = {"recommender": _open_recommender(app)}
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    register_error_handlers(app)
    _add_timing(app)
    if app.config["WARM_UP"]:
        _warm_up(app)
    return app


def _warm_up(app: Flask) -> None:
    """Do at start what the first requests would otherwise pay for: compile every template, build the
    title index and load the sentence encoder (by running one search of each kind)."""
    started = time.perf_counter()
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
    rec = app.extensions["nextwatch"]["recommender"]
    try:
        rec.search_titles("warm up", k=1)
        rec.search_semantic("warm up", k=1)
    except NextwatchError as e:  # e.g. no content model: the search page will say so
        log.warning("search is not fully available: %s", e.message)
    log.info("warmed up in %.2f s", time.perf_counter() - started)


def _open_recommender(app: Flask) -> Any:
    rec = app.config.get("RECOMMENDER")
    if rec is not None:
        return rec
    model_dir = app.config["MODEL_DIR"]
    store = app.config.get("PROFILE_STORE") or str(Path(app.instance_path) / "profiles.sqlite3")
    app.config["PROFILE_STORE"] = store
    from nextwatch.recommend.recommender import Recommender

    started = time.perf_counter()
    # the cards show descriptions: recommend described movies when the catalogue has enough of them
    rec = Recommender.open(model_dir, store=store, only_described=None)
    log.info("opened model %s in %.1f s (profiles in %s)", model_dir, time.perf_counter() - started, store)
    return rec


def _add_timing(app: Flask) -> None:
    """Time every request: wall-clock (``app``) and the CPU time of the thread that served it
    (``cpu``, which other processes competing for the cores do not inflate) go to the
    ``Server-Timing`` header and the debug access log."""

    @app.before_request
    def _start() -> None:
        g.nw_started = (time.perf_counter(), time.thread_time())

    @app.after_request
    def _stop(response: Response) -> Response:
        started = g.get("nw_started")
        if started is not None:
            ms = 1000 * (time.perf_counter() - started[0])
            cpu = 1000 * (time.thread_time() - started[1])
            response.headers["Server-Timing"] = f"app;dur={ms:.2f}, cpu;dur={cpu:.2f}"
            access_log.debug(
                "%s %s %s %.1f ms (%.1f ms CPU)", request.method, request.path, response.status_code, ms, cpu
            )
        return response


def serve(
    app: Flask,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 4,
    *,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` with waitress until interrupted (Ctrl-C or SIGTERM).

    ``port=0`` picks a free port. ``ready`` is called with the base URL once the socket listens
    (the CLI prints it; tests read it). Blocks.
    """
    from waitress import create_server

    _limit_library_threads(int(app.config.get("LIBRARY_THREADS", 1)))
    limit = int(app.config.get("MAX_CONTENT_LENGTH") or (5 << 20))
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="nextwatch",
        # waitress refuses absurd bodies itself; anything up to twice the app's limit reaches the app,
        # whose 413 page is the friendly one
        max_request_body_size=2 * limit + (1 << 20),
        clear_untrusted_proxy_headers=True,
    )
    bound_port = getattr(server, "effective_port", port)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}/"
    log.info("serving on %s with %d threads", url, threads)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if ready is not None:
        ready(url)
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.close()


def _limit_library_threads(n: int) -> None:
    """Cap the BLAS and OpenMP thread pools at ``n`` threads (0: leave them as they are).

    The server's parallelism is its request threads. Left alone, every numpy/BLAS call of every
    request thread would also fan out over all cores, and OpenBLAS's workers spin while waiting:
    measured on the bundled sample (2 cores), a round page then cost 34 ms of CPU instead of 20.
    """
    if n <= 0:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log.warning("threadpoolctl is not installed: library thread pools are left at their defaults")
        return
    threadpool_limits(limits=n)
    log.info("library thread pools (BLAS, OpenMP) limited to %d thread(s) per request thread", n)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


__all__ = ["create_app", "serve"]
