"""The HTML pages: round, your taste, search, import, reset, and the health check.

Every form is a plain POST with a CSRF token and works without JavaScript. A POST that changes the
profile answers with a redirect (303) to a page that shows the new state, so reloading the result
never posts again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from nextwatch.errors import InputError
from nextwatch.web.charts import bar_chart
from nextwatch.web.profiles import (
    RoundError,
    new_round,
    profile_session,
    read_ticket,
    recommender,
    submit_round,
)
from nextwatch.web.uploads import import_upload

bp = Blueprint("pages", __name__)

MAX_QUERY = 200
SEARCH_MODES = ("title", "semantic")


def _local_target(default: str) -> str:
    """The form's ``next`` field if it is a path on this site, else ``default`` (no open redirect)."""
    target = request.form.get("next", "")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return default


def _form_item_id() -> str:
    item_id = request.form.get("item_id", "").strip()
    if not item_id or len(item_id) > 200:
        raise InputError("no movie was given")
    return item_id


def _genres(sess: Any, n: int) -> dict[str, Any]:
    genres = sess.top_genres(n=n)
    return {"genres": genres, "chart": bar_chart(genres)}


@bp.get("/")
def round_page() -> str:
    sess = profile_session()
    rnd = new_round(sess, current_app.config["ROUND_SIZE"])
    return render_template("round.html", round=rnd, **_genres(sess, current_app.config["TOP_GENRES"]))


@bp.post("/round")
def submit() -> Response:
    sess = profile_session()
    try:
        ticket = read_ticket(request.form.get("round_token"))
        liked = [] if request.form.get("action") == "none" else request.form.getlist("liked")
        recorded = submit_round(sess, ticket, liked)
    except RoundError as e:
        flash(e.message, "error")
        return redirect(url_for(".round_page"), 303)
    if not recorded:
        flash("That round was already submitted, so it was not counted twice. Here is your next one.", "info")
    elif liked:
        flash(f"Noted: you liked {len(set(liked))} of {len(ticket.shown)}. Here are five more.", "ok")
    else:
        flash("Noted: none of those. Here are five others.", "ok")
    return redirect(url_for(".round_page"), 303)


@bp.get("/taste")
def taste() -> str:
    sess = profile_session()
    return render_template(
        "taste.html",
        likes=sess.likes(),
        rounds=sess.rounds,
        **_genres(sess, current_app.config["TASTE_GENRES"]),
    )


@bp.post("/undo")
def undo() -> Response:
    sess = profile_session()
    item_id = _form_item_id()
    liked = {it.item_id: it for it in sess.likes()}
    if item_id in liked:
        sess.undo(item_id)
        flash(f"Removed {liked[item_id].title} from your likes.", "ok")
    else:
        recommender().item_card(item_id)  # an unknown id is a 404, a known one was simply undone already
        flash("That movie is no longer among your likes.", "info")
    return redirect(_local_target(url_for(".taste")), 303)


@bp.get("/search")
def search() -> str:
    q = request.args.get("q", "").strip()
    mode = request.args.get("mode", "title")
    if mode not in SEARCH_MODES:
        mode = "title"
    results: list[Any] = []
    error = None
    if len(q) > MAX_QUERY:
        error = f"Please search with at most {MAX_QUERY} characters."
    elif q:
        rec = recommender()
        k = current_app.config["SEARCH_RESULTS"]
        results = rec.search_titles(q, k=k) if mode == "title" else rec.search_semantic(q, k=k)
    liked_ids = {it.item_id for it in profile_session().likes()} if results else set()
    status = 400 if error else 200
    return render_template(  # type: ignore[return-value]
        "search.html", q=q, mode=mode, results=results, liked_ids=liked_ids, error=error
    ), status


@bp.post("/like")
def like() -> Response:
    sess = profile_session()
    item_id = _form_item_id()
    card = recommender().item_card(item_id)  # NotFoundError -> 404 page
    sess.like(item_id, source="search")
    flash(f"Liked {card.title}.", "ok")
    return redirect(_local_target(url_for(".search")), 303)


@bp.route("/import", methods=["GET", "POST"])
def import_history() -> Any:
    if request.method == "GET":
        return render_template("import.html", report=None, error=None)
    sess = profile_session()
    try:
        report = import_upload(sess, request.files.get("history"))
    except InputError as e:
        return render_template("import.html", report=None, error=e.message, hint=e.hint), 400
    return render_template("import.html", report=report, error=None, likes_count=len(sess.likes()))


@bp.route("/reset", methods=["GET", "POST"])
def reset() -> Any:
    if request.method == "GET":
        sess = profile_session()
        return render_template("reset.html", likes_count=len(sess.likes()), rounds=sess.rounds)
    profile_session().reset()
    flash("Your profile was reset: no likes, no rounds. Start again below.", "ok")
    return redirect(url_for(".round_page"), 303)


@bp.get("/healthz")
def healthz() -> Any:
    """Liveness and readiness: the recommender is loaded; counts of its catalogue."""
    rec = recommender()
    dataset = getattr(rec, "dataset", None)
    body: dict[str, Any] = {"status": "ok"}
    if dataset is not None:
        body["items"] = int(dataset.n_items)
        body["dataset_fingerprint"] = dataset.fingerprint
    return jsonify(body)
