"""The JSON API (/api/v1) through Flask's test client, over the fake recommender: every route and
every validation error as JSON with a 4xx status."""

from __future__ import annotations

import io
import logging
import re

import pytest

import nextwatch.web


@pytest.fixture
def api(client):
    """The test client with this session's CSRF token in the X-CSRFToken header of every POST."""
    token = client.get("/api/v1/csrf-token").json["csrf_token"]

    class Api:
        raw = client

        def get(self, url, **kw):
            return client.get(url, **kw)

        def post(self, url, json=None, **kw):
            headers = {"X-CSRFToken": token, **kw.pop("headers", {})}
            if json is not None:
                kw["json"] = json
            return client.post(url, headers=headers, **kw)

    return Api()


def _error(r, status, code, field=None):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/json"
    err = r.json["error"]
    assert err["status"] == status and err["code"] == code, err
    assert err["message"]
    if field is not None:
        assert err["field"] == field
    return err


def test_round_and_feedback_cycle(api, fake):
    r = api.get("/api/v1/round")
    assert r.status_code == 200
    body = r.json
    assert body["round"] == 1 and body["rounds_done"] == 0
    assert [it["item_id"] for it in body["items"]] == ["1", "2", "3", "4", "5"]
    first = body["items"][1]
    assert first["title"] == "千と千尋の神隠し" and first["genres"] == ["Animation", "Fantasy"]
    assert set(first) >= {
        "item_id",
        "title",
        "year",
        "genres",
        "kind",
        "description",
        "score",
        "reason",
        "scores",
    }
    fb = api.post("/api/v1/feedback", json={"round_token": body["round_token"], "liked": ["2", "4"]})
    assert fb.status_code == 200
    out = fb.json
    assert out["recorded"] is True and out["rounds_done"] == 1
    assert [it["item_id"] for it in out["next"]["items"]] == ["6", "7", "8", "9", "10"]
    assert out["next"]["round"] == 2
    # the same round again: acknowledged, not counted
    again = api.post("/api/v1/feedback", json={"round_token": body["round_token"], "liked": ["2", "4"]})
    assert again.status_code == 200 and again.json["recorded"] is False and again.json["rounds_done"] == 1
    assert len([c for c in fake.calls if c[0] == "feedback"]) == 1
    assert api.get("/api/v1/genres").json == {
        "genres": [{"genre": "Animation", "count": 2}, {"genre": "Fantasy", "count": 1}],
        "rounds_done": 1,
    }
    assert api.get("/api/v1/genres?n=1").json["genres"] == [{"genre": "Animation", "count": 2}]
    likes = api.get("/api/v1/likes").json
    assert [it["item_id"] for it in likes["likes"]] == ["4", "2"] and likes["rounds_done"] == 1


def test_round_k_parameter(api):
    assert len(api.get("/api/v1/round?k=3").json["items"]) == 3
    _error(api.get("/api/v1/round?k=0"), 400, "invalid_field", "k")
    _error(api.get("/api/v1/round?k=21"), 400, "invalid_field", "k")
    _error(api.get("/api/v1/round?k=five"), 400, "invalid_field", "k")
    _error(api.get("/api/v1/genres?n=0"), 400, "invalid_field", "n")


def test_feedback_validation_errors(api, fake):
    token = api.get("/api/v1/round").json["round_token"]
    _error(api.post("/api/v1/feedback", data="liked=1"), 415, "unsupported_media_type")
    _error(api.post("/api/v1/feedback", json=["1"]), 400, "invalid_json")
    _error(
        api.post("/api/v1/feedback", data="{nope", headers={"Content-Type": "application/json"}),
        400,
        "invalid_json",
    )
    _error(
        api.post("/api/v1/feedback", json={"round_token": token, "liked": "1"}), 400, "invalid_field", "liked"
    )
    _error(
        api.post("/api/v1/feedback", json={"round_token": token, "liked": [1]}), 400, "invalid_field", "liked"
    )
    _error(api.post("/api/v1/feedback", json={"liked": []}), 400, "invalid_round", "round_token")
    _error(
        api.post("/api/v1/feedback", json={"round_token": token + "x"}), 400, "invalid_round", "round_token"
    )
    err = _error(
        api.post("/api/v1/feedback", json={"round_token": token, "liked": ["9"]}), 400, "invalid_round"
    )
    assert err["field"] == "liked" and "'9' was not in this round" in err["message"]
    assert not [c for c in fake.calls if c[0] == "feedback"]


def test_post_without_csrf_header_is_refused_as_json(client, fake):
    token = client.get("/api/v1/round").json["round_token"]
    r = client.post("/api/v1/feedback", json={"round_token": token, "liked": ["1"]})
    err = _error(r, 400, "csrf")
    assert "X-CSRFToken" in err["message"]
    r = client.post("/api/v1/feedback", json={"round_token": token}, headers={"X-CSRFToken": "forged"})
    _error(r, 400, "csrf")
    assert not [c for c in fake.calls if c[0] == "feedback"]


def test_csrf_token_of_another_session_is_refused(app, api):
    other = app.test_client()
    other_token = other.get("/api/v1/csrf-token").json["csrf_token"]
    r = api.raw.post("/api/v1/reset", headers={"X-CSRFToken": other_token})
    _error(r, 400, "csrf")


def test_like_and_undo(api, fake):
    r = api.post("/api/v1/like", json={"item_id": "7"})
    assert r.status_code == 200 and r.json["liked"]["title"] == "Movie 07" and r.json["likes"] == 1
    assert api.post("/api/v1/like", json={"item_id": "7"}).json["likes"] == 1  # idempotent
    _error(api.post("/api/v1/like", json={"item_id": "nope"}), 404, "not_found")
    _error(api.post("/api/v1/like", json={}), 400, "invalid_field", "item_id")
    _error(api.post("/api/v1/like", json={"item_id": 7}), 400, "invalid_field", "item_id")
    _error(api.post("/api/v1/like", json={"item_id": "x" * 201}), 400, "invalid_field", "item_id")
    _error(api.post("/api/v1/undo", json={"item_id": "8"}), 404, "not_liked", "item_id")
    _error(api.post("/api/v1/undo", json={"item_id": "nope"}), 404, "not_found")
    r = api.post("/api/v1/undo", json={"item_id": "7"})
    assert r.status_code == 200 and r.json == {"removed": "7", "likes": 0}
    assert api.get("/api/v1/likes").json["likes"] == []


def test_search(api):
    r = api.get("/api/v1/search?q=movie 2")
    assert r.status_code == 200
    assert r.json["mode"] == "title" and [it["item_id"] for it in r.json["items"]] == ["20"]
    r = api.get("/api/v1/search?q=girl spirits&mode=semantic&k=3")
    assert [it["item_id"] for it in r.json["items"]] == ["2"]
    _error(api.get("/api/v1/search"), 400, "invalid_field", "q")
    _error(api.get("/api/v1/search?q=" + "x" * 201), 400, "invalid_field", "q")
    _error(api.get("/api/v1/search?q=a&mode=fuzzy"), 400, "invalid_field", "mode")
    _error(api.get("/api/v1/search?q=a&k=101"), 400, "invalid_field", "k")


def test_import(api, fake):
    csv = "Title,Date\nMovie 09,1/1/20\nUnknown Thing: Season 2: Finale,1/2/20\n"
    r = api.post(
        "/api/v1/import",
        data={"file": (io.BytesIO(csv.encode()), "NetflixViewingHistory.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200
    assert r.json["n_rows"] == 2 and r.json["unmatched"] == ["Unknown Thing"] and r.json["likes"] == 1
    assert (
        r.json["matched"][0]["history_title"] == "Movie 09" and r.json["matched"][0]["item"]["item_id"] == "9"
    )
    bad = api.post(
        "/api/v1/import",
        data={"file": (io.BytesIO(b"Name,When\nx,y\n"), "h.csv")},
        content_type="multipart/form-data",
    )
    err = _error(bad, 400, "invalid_csv", "file")
    assert err["message"].startswith("h.csv, line 1: expected a header")
    _error(
        api.post("/api/v1/import", data={}, content_type="multipart/form-data"), 400, "invalid_csv", "file"
    )
    _error(api.post("/api/v1/import", json={"file": "x"}), 415, "unsupported_media_type")
    assert [it["item_id"] for it in api.get("/api/v1/likes").json["likes"]] == ["9"]


def test_import_too_large_is_json_413(fake, tmp_path):
    app = nextwatch.web.create_app(
        {"TESTING": True, "RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path), "MAX_CONTENT_LENGTH": 4096}
    )
    c = app.test_client()
    token = c.get("/api/v1/csrf-token").json["csrf_token"]
    r = c.post(
        "/api/v1/import",
        data={"file": (io.BytesIO(b"Title,Date\n" + b"a,1/1/20\n" * 1000), "big.csv")},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": token},
    )
    err = _error(r, 413, "too_large")
    assert "4 KiB" in err["message"]


def test_reset(api):
    api.post("/api/v1/like", json={"item_id": "3"})
    assert api.post("/api/v1/reset").json == {"reset": True}
    assert api.get("/api/v1/likes").json == {"likes": [], "rounds_done": 0}


def test_unknown_route_and_wrong_method_are_json(api):
    _error(api.get("/api/v1/nothing"), 404, "not_found")
    _error(api.get("/api/v1/feedback"), 405, "method_not_allowed")


def test_unexpected_error_is_json_500_without_details(fake, tmp_path, caplog):
    app = nextwatch.web.create_app(
        {"RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32}
    )

    def boom(query, k=10):
        raise ZeroDivisionError("internal detail 42")

    fake.search_titles = boom
    with caplog.at_level(logging.ERROR):
        r = app.test_client().get("/api/v1/search?q=a")
    err = _error(r, 500, "internal_error")
    assert "internal detail" not in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    assert re.search(r"reference [0-9a-f]{8}", err["message"])
    assert any(rec.exc_info and rec.exc_info[0] is ZeroDivisionError for rec in caplog.records)


def test_library_errors_become_4xx(api, fake):
    from nextwatch.errors import NextwatchError

    def no_content(query, k=10):
        raise NextwatchError("semantic search needs the content model (embeddings), which is not loaded")

    fake.search_semantic = no_content
    err = _error(api.get("/api/v1/search?q=a&mode=semantic"), 400, "invalid_input")
    assert "content model" in err["message"]
    page = api.get("/search?q=a&mode=semantic")
    assert page.status_code == 400 and "content model" in page.get_data(as_text=True)


def test_openapi_document_covers_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") or rule.rule == "/healthz":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {p: set(ops) for p, ops in doc["paths"].items()}
    assert documented == routes
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and "200" in op["responses"], (path, method)
            if method == "post":
                assert op["security"] == [{"csrfToken": []}], path


def test_api_and_pages_share_one_profile(api):
    api.post("/api/v1/like", json={"item_id": "5"})
    html = api.get("/taste").get_data(as_text=True)
    assert 'data-item-id="5"' in html
