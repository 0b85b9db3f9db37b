"""The HTML pages through Flask's test client, over the in-memory fake recommender.

The test client posts forms exactly as a browser without JavaScript would, so these tests are the
no-JS path: tick, submit, see the next round; undo; search and like; import; reset; and every error.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from webtools import hidden, parse, round_state

import nextwatch.web

TEMPLATES = Path(nextwatch.web.__file__).parent / "templates"


def _submit(client, state, liked, action="submit", **extra):
    data = {
        "csrf_token": state["csrf_token"],
        "round_token": state["round_token"],
        "liked": liked,
        "action": action,
    }
    data.update(extra)
    return client.post("/round", data=data)


def test_round_page_shows_five_cards_with_checkboxes_named_by_item_id(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    s = round_state(r.data)
    assert s["cards"] == ["1", "2", "3", "4", "5"]  # the fake's order: first five never shown
    assert s["checkboxes"] == [("liked", i) for i in ["1", "2", "3", "4", "5"]]
    assert s["round_token"] and s["csrf_token"]
    page = r.get_data(as_text=True)
    assert "Select the movies you like and submit" in page
    assert page.count('class="card-reason"') == 5
    assert "Plot of movie 3 about heists and love." in page
    assert "TV show" in page and "Drama, Romance" in page and "1993" in page
    assert 'name="action" value="none"' in page


def test_submit_records_likes_and_shown_and_next_round_is_all_new(client, fake):
    first = round_state(client.get("/").data)
    r = _submit(client, first, ["3", "5"])
    assert r.status_code == 303 and r.headers["Location"] == "/"
    fb = [c for c in fake.calls if c[0] == "feedback"]
    assert len(fb) == 1
    _, _pid, liked, shown, round_id = fb[0]
    assert liked == ["3", "5"] and shown == ["1", "2", "3", "4", "5"] and round_id.startswith("r0-")
    page = client.get("/")
    nxt = round_state(page.data)
    assert nxt["cards"] == ["6", "7", "8", "9", "10"]
    assert not set(nxt["cards"]) & set(first["cards"])
    assert "Noted: you liked 2 of 5" in page.get_data(as_text=True)
    # item 3: Drama, Romance; item 5: Drama -> Drama 2, Romance 1; bar widths 290 and 145 px (480-150-40)
    assert nxt["genres"] == [("Drama", 2), ("Romance", 1)]
    assert nxt["bars"] == [
        {"genre": "Drama", "count": 2, "width": 290.0},
        {"genre": "Romance", "count": 1, "width": 145.0},
    ]


def test_round_page_without_likes_has_no_chart(client):
    page = client.get("/").get_data(as_text=True)
    assert "No likes yet" in page and "<svg" not in page


def test_resubmitting_a_round_is_not_counted_twice(client, fake):
    first = round_state(client.get("/").data)
    assert _submit(client, first, ["1"]).status_code == 303
    again = _submit(client, first, ["1", "2"])
    assert again.status_code == 303
    assert len([c for c in fake.calls if c[0] == "feedback"]) == 1
    sess = fake.session(next(iter(fake.profiles)))
    assert sess.rounds == 1 and [x.item_id for x in sess.likes()] == ["1"]
    assert "already submitted" in client.get("/").get_data(as_text=True)


def test_none_of_these_records_the_round_with_no_likes_even_if_boxes_are_ticked(client, fake):
    first = round_state(client.get("/").data)
    assert _submit(client, first, ["2"], action="none").status_code == 303
    _, _, liked, shown, _ = next(c for c in fake.calls if c[0] == "feedback")
    assert liked == [] and shown == ["1", "2", "3", "4", "5"]
    assert round_state(client.get("/").data)["cards"] == ["6", "7", "8", "9", "10"]


def test_tampered_or_foreign_round_token_is_refused(client, app, fake):
    first = round_state(client.get("/").data)
    bad = dict(first, round_token=first["round_token"][:-2] + "xx")
    assert _submit(client, bad, ["1"]).status_code == 303
    assert "not valid" in client.get("/").get_data(as_text=True)
    other = app.test_client()
    theirs = round_state(other.get("/").data)
    mixed = dict(first, round_token=theirs["round_token"])
    _submit(client, mixed, ["1"])
    assert "another profile" in client.get("/").get_data(as_text=True)
    assert not [c for c in fake.calls if c[0] == "feedback"]


def test_ticking_an_item_not_in_the_round_is_refused(client, fake):
    first = round_state(client.get("/").data)
    _submit(client, first, ["1", "17"])
    assert "was not in this round" in client.get("/").get_data(as_text=True)
    assert not [c for c in fake.calls if c[0] == "feedback"]


def test_missing_csrf_token_is_a_400_page_and_records_nothing(client, fake):
    first = round_state(client.get("/").data)
    r = client.post("/round", data={"round_token": first["round_token"], "liked": ["1"]})
    assert r.status_code == 400 and r.mimetype == "text/html"
    assert "expired or was not sent from this site" in r.get_data(as_text=True)
    assert not [c for c in fake.calls if c[0] == "feedback"]


def test_taste_page_lists_likes_newest_first_and_undo_removes_one(client, fake):
    _submit(client, round_state(client.get("/").data), ["3", "5"])
    page = client.get("/taste")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.findall(r'<li class="like" data-item-id="(\w+)"', html) == ["5", "3"]
    assert '<span class="rounds-count">1</span>' in html and '<span class="likes-count">2</span>' in html
    assert [tuple(r) for r in parse(html).rows] == [("Drama", "2"), ("Romance", "1")]
    token = hidden(html, "csrf_token")
    r = client.post("/undo", data={"csrf_token": token, "item_id": "3"})
    assert r.status_code == 303 and r.headers["Location"] == "/taste"
    html = client.get("/taste").get_data(as_text=True)
    assert "Removed Movie 03 from your likes." in html
    assert re.findall(r'<li class="like" data-item-id="(\w+)"', html) == ["5"]
    assert [tuple(r) for r in parse(html).rows] == [("Drama", "1")]
    # undoing again: a notice, not an error; an unknown id: 404 page
    assert client.post("/undo", data={"csrf_token": token, "item_id": "3"}).status_code == 303
    assert "no longer among your likes" in client.get("/taste").get_data(as_text=True)
    assert client.post("/undo", data={"csrf_token": token, "item_id": "nope"}).status_code == 404
    assert client.post("/undo", data={"csrf_token": token}).status_code == 400


def test_undo_redirects_only_to_local_pages(client):
    token = round_state(client.get("/").data)["csrf_token"]
    r = client.post("/undo", data={"csrf_token": token, "item_id": "1", "next": "//evil.example/x"})
    assert r.headers["Location"] == "/taste"
    r = client.post("/undo", data={"csrf_token": token, "item_id": "1", "next": "/search?q=a"})
    assert r.headers["Location"] == "/search?q=a"


def test_title_search_and_like_a_result(client, fake):
    r = client.get("/search?q=movie 1&mode=title")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    ids = parse(html).cards
    assert ids == ["10", "11", "12", "13", "14", "15", "16", "17", "18", "19"]  # SEARCH_RESULTS = 10
    token = hidden(html, "csrf_token")
    r = client.post(
        "/like", data={"csrf_token": token, "item_id": "12", "next": "/search?q=movie+1&mode=title"}
    )
    assert r.status_code == 303 and r.headers["Location"] == "/search?q=movie+1&mode=title"
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Liked Movie 12." in html
    assert re.search(r'data-item-id="12">.*?Liked ✓', html, re.S)
    pid = next(iter(fake.profiles))
    assert fake.profiles[pid].likes == [("12", "search")]
    assert client.post("/like", data={"csrf_token": token, "item_id": "999"}).status_code == 404


def test_semantic_search_uses_descriptions(client):
    html = client.get("/search?q=spirits&mode=semantic").get_data(as_text=True)
    assert parse(html).cards == ["2"]
    assert "descriptions (by meaning)" in html
    assert "Nothing matched" in client.get("/search?q=zzzz&mode=semantic").get_data(as_text=True)


def test_search_page_empty_query_and_too_long_query(client):
    r = client.get("/search")
    assert r.status_code == 200 and parse(r.data).cards == []
    r = client.get("/search?q=" + "x" * 201)
    assert r.status_code == 400 and "at most 200 characters" in r.get_data(as_text=True)
    assert client.get("/search?q=movie&mode=bogus").status_code == 200  # falls back to title search


def _csv(text: str, name: str = "NetflixViewingHistory.csv"):
    return (io.BytesIO(text.encode("utf-8")), name)


def test_import_lists_matched_and_unmatched_and_adds_likes(client, fake):
    token = hidden(client.get("/import").data, "csrf_token")
    body = 'Title,Date\n"Movie 07: Season 1: Pilot","10/21/20"\nMovie 08,10/22/20\nNot A Film,1/1/21\n'
    r = client.post(
        "/import", data={"csrf_token": token, "history": _csv(body)}, content_type="multipart/form-data"
    )
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<span class="matched-count">2</span>' in html and '<span class="unmatched-count">1</span>' in html
    assert "<li>Not A Film</li>" in html and "from 3 rows" in html
    pid = next(iter(fake.profiles))
    assert fake.profiles[pid].likes == [("7", "import"), ("8", "import")]


def test_broken_import_shows_the_error_on_the_page_and_leaves_the_profile_untouched(client, fake):
    _submit(client, round_state(client.get("/").data), ["1"])
    token = hidden(client.get("/import").data, "csrf_token")
    bad = "Title,Date\nMovie 07,1/1/20\nMovie 08,1/2/20,extra\n"
    r = client.post(
        "/import",
        data={"csrf_token": token, "history": _csv(bad, "my history.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "your profile was not changed" in html
    assert "my history.csv, line 3: expected 2 fields (Title,Date), found 3" in html
    assert "/tmp" not in html and "viewing-history.csv" not in html  # the temporary path is never shown
    pid = next(iter(fake.profiles))
    assert fake.profiles[pid].likes == [("1", "round")]
    for data, message in [
        ({"history": _csv("")}, "the file is empty"),
        ({}, "no file was chosen"),
        ({"history": (io.BytesIO(b"\xff\xfe\x00garbage"), "x.csv")}, "not UTF-8"),
    ]:
        r = client.post("/import", data={"csrf_token": token, **data}, content_type="multipart/form-data")
        assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert fake.profiles[pid].likes == [("1", "round")]


def test_upload_over_the_limit_gets_a_friendly_413_page(fake, tmp_path):
    app = nextwatch.web.create_app(
        {"TESTING": True, "RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path), "MAX_CONTENT_LENGTH": 2048}
    )
    client = app.test_client()
    token = hidden(client.get("/import").data, "csrf_token")
    big = "Title,Date\n" + "Movie 07,1/1/20\n" * 400
    r = client.post(
        "/import", data={"csrf_token": token, "history": _csv(big)}, content_type="multipart/form-data"
    )
    assert r.status_code == 413 and r.mimetype == "text/html"
    assert "Uploads are limited to 2 KiB" in r.get_data(as_text=True)
    assert all(not p.likes for p in fake.profiles.values())


def test_reset_confirms_then_clears_the_profile(client, fake):
    _submit(client, round_state(client.get("/").data), ["1", "2"])
    html = client.get("/reset").get_data(as_text=True)
    assert "forgets your 2 liked movies" in html and "your 1 round." in html
    r = client.post("/reset", data={"csrf_token": hidden(html, "csrf_token")})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    after = client.get("/")
    assert round_state(after.data)["cards"] == ["1", "2", "3", "4", "5"]
    assert "Your profile was reset" in after.get_data(as_text=True)


def test_not_found_and_method_not_allowed_pages(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "Page not found" in r.get_data(as_text=True)
    r = client.get("/round")
    assert r.status_code == 405 and "GET is not allowed here." in r.get_data(as_text=True)


def test_unexpected_error_is_a_500_page_without_a_traceback_and_is_logged(fake, tmp_path, caplog):
    app = nextwatch.web.create_app(
        {"RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32}
    )

    def boom(profile_id):
        raise RuntimeError("secret internals: /srv/db password=hunter2")

    fake.session = boom
    with caplog.at_level(logging.ERROR, logger="nextwatch.web.errors"):
        r = app.test_client().get("/")
    assert r.status_code == 500
    html = r.get_data(as_text=True)
    assert "Something went wrong on our side" in html
    assert "Traceback" not in html and "hunter2" not in html and "RuntimeError" not in html
    ref = re.search(r"reference ([0-9a-f]{8})", html).group(1)
    record = next(rec for rec in caplog.records if ref in rec.getMessage())
    assert record.exc_info and record.exc_info[0] is RuntimeError


def test_health_endpoint(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok", "items": 20, "dataset_fingerprint": "fake"}
    assert "Set-Cookie" not in r.headers  # a probe does not create profiles


def test_static_assets_are_local_and_pages_reference_no_other_origin(client):
    page = client.get("/").get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith("/"), url
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert client.get("/static/app.js").status_code == 200


def test_security_headers_and_cookie_flags(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/style.css").headers.get("Cache-Control", "")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("nextwatch=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # kept for a year, not a browser-session cookie
    assert re.fullmatch(r"app;dur=\d+\.\d\d, cpu;dur=\d+\.\d\d", r.headers["Server-Timing"])


def test_no_template_marks_text_safe():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, path


def test_hostile_titles_are_escaped_on_every_page(client, fake):
    evil = 'Tom & Jerry\'s "Big" <script>alert(1)</script>'
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html and "<b>Bold</b>" not in html
    assert "Tom &amp; Jerry&#39;s &#34;Big&#34; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "千と千尋の神隠し" in html and "少女が神々の世界に迷い込む。" in html
    state = round_state(html)
    _submit(client, state, ["1", "2"])
    for url in ["/", "/taste", "/search?q=" + "Tom %26 Jerry", "/search?q=%3Cscript%3E"]:
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<b>Bold</b>" not in page, url
    taste = client.get("/taste").get_data(as_text=True)
    assert (
        "千と千尋の神隠し" in taste and "&lt;b&gt;Bold&lt;/b&gt;" in taste
    )  # the genre, escaped, in table and chart
    # the flash message after liking from search carries the title: escaped too
    token = hidden(taste, "csrf_token")
    client.post("/undo", data={"csrf_token": token, "item_id": "1"})
    flashed = client.get("/taste").get_data(as_text=True)
    assert "Removed Tom &amp; Jerry" in flashed and "<script>alert" not in flashed
    # history titles in the import report
    body = 'Title,Date\n"<script>alert(3)</script> & co",1/1/20\n"' + evil.replace('"', '""') + '",1/1/20\n'
    r = client.post(
        "/import", data={"csrf_token": token, "history": _csv(body)}, content_type="multipart/form-data"
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "<script>alert" not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt; &amp; co" in page
    assert evil not in page


def test_profile_survives_a_restart_with_the_generated_secret_key(fake, tmp_path):
    config = {"TESTING": True, "RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path / "inst")}
    app1 = nextwatch.web.create_app(config)
    c1 = app1.test_client()
    _submit(c1, round_state(c1.get("/").data), ["4"])
    cookie = c1.get_cookie("nextwatch").value
    key_file = tmp_path / "inst" / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    app2 = nextwatch.web.create_app(config)  # "restart": same instance folder, no SECRET_KEY given
    assert app2.config["SECRET_KEY"] == app1.config["SECRET_KEY"]
    c2 = app2.test_client()
    c2.set_cookie("nextwatch", cookie)
    s = round_state(c2.get("/").data)
    assert s["cards"] == ["6", "7", "8", "9", "10"] and s["genres"] == [("Animation", 1)]
    assert len(fake.profiles) == 1


def test_when_every_movie_was_shown_the_page_says_so_and_offers_a_reset(client, fake):
    for _ in range(4):  # 20 movies, 5 a round
        _submit(client, round_state(client.get("/").data), [], action="none")
    html = client.get("/").get_data(as_text=True)
    assert parse(html).cards == []
    assert "You have seen every movie in the catalogue." in html and 'href="/reset"' in html
    assert len([c for c in fake.calls if c[0] == "feedback"]) == 4
    assert client.get("/api/v1/round").json["items"] == []
