"""The JSON API under ``/api/v1/``, mirroring the pages (documented in :mod:`nextwatch.web.openapi`).

The profile is the same as the pages': the signed session cookie. Every POST needs the CSRF token in
an ``X-CSRFToken`` header (get it from ``GET /api/v1/csrf-token``): a cross-site page can make a
browser send the cookie, but cannot read the token, so it cannot forge feedback, likes, imports or
resets. Invalid input is answered with JSON ``{"error": {...}}`` and a 4xx status.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import generate_csrf

from nextwatch.errors import InputError
from nextwatch.web.errors import ApiError
from nextwatch.web.openapi import openapi_document
from nextwatch.web.profiles import (
    RoundError,
    new_round,
    profile_session,
    read_ticket,
    recommender,
    submit_round,
)
from nextwatch.web.uploads import import_upload

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_QUERY = 200
MAX_ID = 200


def _body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "send a JSON object with Content-Type: application/json"
        )
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def _item_id(data: dict[str, Any], field: str = "item_id") -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
        raise ApiError(400, "invalid_field", f"{field} must be a non-empty string (an item id)", field=field)
    return value.strip()


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name} must be a whole number", field=name) from None
    if not lo <= value <= hi:
        raise ApiError(400, "invalid_field", f"{name} must be from {lo} to {hi}", field=name)
    return value


def _round_json(sess: Any, k: int) -> dict[str, Any]:
    rnd = new_round(sess, k)
    return {
        "round_token": rnd.token,
        "round": rnd.number + 1,
        "rounds_done": rnd.number,
        "items": [it.to_json() for it in rnd.items],
    }


@bp.get("/csrf-token")
def csrf_token() -> Any:
    """The token to send as ``X-CSRFToken`` with every POST of this session."""
    return jsonify({"csrf_token": generate_csrf(), "header": "X-CSRFToken"})


@bp.get("/round")
def next_round() -> Any:
    k = _int_arg("k", current_app.config["ROUND_SIZE"], 1, 20)
    return jsonify(_round_json(profile_session(), k))


@bp.post("/feedback")
def feedback() -> Any:
    data = _body()
    liked = data.get("liked", [])
    if not isinstance(liked, list) or not all(isinstance(x, str) for x in liked):
        raise ApiError(400, "invalid_field", "liked must be a list of item ids (strings)", field="liked")
    sess = profile_session()
    try:
        ticket = read_ticket(data.get("round_token"))
        recorded = submit_round(sess, ticket, liked)
    except RoundError as e:
        raise ApiError(400, "invalid_round", e.message, field=e.field) from None
    k = _int_arg("k", current_app.config["ROUND_SIZE"], 1, 20)
    return jsonify({"recorded": recorded, "rounds_done": int(sess.rounds), "next": _round_json(sess, k)})


@bp.post("/like")
def like() -> Any:
    item_id = _item_id(_body())
    card = recommender().item_card(item_id)  # NotFoundError -> 404 JSON
    sess = profile_session()
    sess.like(item_id, source="search")
    return jsonify({"liked": card.to_json(), "likes": len(sess.likes())})


@bp.post("/undo")
def undo() -> Any:
    item_id = _item_id(_body())
    sess = profile_session()
    liked = {it.item_id for it in sess.likes()}
    if item_id not in liked:
        recommender().item_card(item_id)  # unknown id -> 404 not_found
        raise ApiError(404, "not_liked", f"item {item_id!r} is not among your likes", field="item_id")
    sess.undo(item_id)
    return jsonify({"removed": item_id, "likes": len(liked) - 1})


@bp.get("/likes")
def likes() -> Any:
    sess = profile_session()
    return jsonify({"likes": [it.to_json() for it in sess.likes()], "rounds_done": int(sess.rounds)})


@bp.get("/genres")
def genres() -> Any:
    n = _int_arg("n", current_app.config["TOP_GENRES"], 1, 50)
    sess = profile_session()
    top = sess.top_genres(n=n)
    return jsonify(
        {"genres": [{"genre": g, "count": int(c)} for g, c in top], "rounds_done": int(sess.rounds)}
    )


@bp.get("/search")
def search() -> Any:
    q = request.args.get("q", "").strip()
    if not q or len(q) > MAX_QUERY:
        raise ApiError(400, "invalid_field", f"q must be 1 to {MAX_QUERY} characters", field="q")
    mode = request.args.get("mode", "title")
    if mode not in ("title", "semantic"):
        raise ApiError(400, "invalid_field", "mode must be 'title' or 'semantic'", field="mode")
    k = _int_arg("k", current_app.config["SEARCH_RESULTS"], 1, 100)
    rec = recommender()
    results = rec.search_titles(q, k=k) if mode == "title" else rec.search_semantic(q, k=k)
    return jsonify({"query": q, "mode": mode, "items": [it.to_json() for it in results]})


@bp.post("/import")
def import_history() -> Any:
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError(
            415, "unsupported_media_type", "upload the CSV as multipart/form-data in the field 'file'"
        )
    sess = profile_session()
    try:
        report = import_upload(sess, request.files.get("file"))
    except InputError as e:
        raise ApiError(400, "invalid_csv", e.message, field="file") from None
    return jsonify(
        {
            "n_rows": int(report.n_rows),
            "matched": [{"history_title": t, "item": it.to_json()} for t, it in report.matched],
            "unmatched": list(report.unmatched),
            "likes": len(sess.likes()),
        }
    )


@bp.post("/reset")
def reset() -> Any:
    profile_session().reset()
    return jsonify({"reset": True})


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())
