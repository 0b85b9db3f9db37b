"""Browser tests: Debian's Chromium, driven by Playwright, against the real server.

A module fixture builds a tiny model with the real pipeline (``nextwatch ingest`` of a hand-made
catalogue of 98 movies, ``nextwatch train --epochs 1 --split none``) and starts ``nextwatch serve``
on a free loopback port; the server embeds the descriptions with the real Sentence-BERT model on
its first start, as it does for anyone serving a fresh model. Each test gets a fresh browser context, so
a fresh cookie and profile. Screenshots land in ``test-artifacts/browser/`` (gitignored).

Never ``playwright install``: the browser is ``/usr/bin/chromium`` (``apt-get install chromium``);
the tests skip, saying so, where it is absent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from web_catalogue import CJK_TITLE, EVIL_TITLE, broken_csv, history_csv, write_sources

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
NEXTWATCH = Path(sys.executable).parent / "nextwatch"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


def _run(*args: str, cwd: Path) -> None:
    env = {**os.environ, "NEXTWATCH_PROGRESS": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [str(NEXTWATCH), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"nextwatch {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A model folder built by the real pipeline from the hand-made catalogue (about 100 movies)."""
    root = tmp_path_factory.mktemp("tiny-world")
    src = write_sources(root / "sources")
    _run(
        "ingest", str(src["movielens"]), str(src["netflix_titles"]), "--out", str(root / "dataset"), cwd=root
    )
    model = ["--out", str(root / "model"), "--epochs", "1", "--split", "none", "--no-eval"]
    _run("train", str(root / "dataset"), *model, cwd=root)
    return root / "model"


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    """``nextwatch serve`` in a child process on a free loopback port; yields its base URL."""
    root = tmp_path_factory.mktemp("server")
    log_path = root / "server.log"
    env = {**os.environ, "NEXTWATCH_INSTANCE_PATH": str(root / "instance"), "PYTHONUNBUFFERED": "1"}
    env.pop("NEXTWATCH_PROFILE_STORE", None)
    env.pop("NEXTWATCH_CONFIG", None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(NEXTWATCH), "serve", "--port", "0", "--workers", "4", "--model", str(tiny_model)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=root,
        )
        try:
            url = None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                m = re.search(r"serving on (http://127\.0\.0\.1:\d+/)", line)
                if m:
                    url = m.group(1)
                    break
            assert url, f"server did not start:\n{log_path.read_text()}"
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log_path.read_text()
    assert "Traceback" not in text and "unhandled error" not in text, text


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A page in a fresh context (a new visitor); fails the test on any console error or page error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    pg = context.new_page()
    problems: list[str] = []

    def on_console(msg) -> None:
        # a 4xx page is itself logged as "Failed to load resource"; failed sub-resources are caught below
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console {msg.type}: {msg.text}")

    def on_response(resp) -> None:
        if resp.request.resource_type != "document" and resp.status >= 400:
            problems.append(f"{resp.status} for {resp.url}")

    pg.on("console", on_console)
    pg.on("response", on_response)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("dialog", lambda d: (problems.append(f"dialog opened: {d.message}"), d.dismiss()))
    pg.set_default_timeout(15_000)
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
    context.close()
    assert not problems, problems


def shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def card_ids(pg) -> list[str]:
    return pg.locator("li.card").evaluate_all("els => els.map(e => e.dataset.itemId)")


def card_genres(pg, i: int) -> list[str]:
    g = pg.locator("li.card").nth(i).locator(".genres")
    return [x for x in g.inner_text().split(", ") if x] if g.count() else []


def genre_table(pg) -> list[tuple[str, int]]:
    rows = pg.locator("table.genre-table tbody tr")
    return [
        (r.locator("td").nth(0).inner_text(), int(r.locator("td").nth(1).inner_text())) for r in rows.all()
    ]


def chart_bars(pg) -> list[tuple[str, int]]:
    return [
        (b.get_attribute("data-genre"), int(b.get_attribute("data-count")))
        for b in pg.locator("svg.genre-chart g.bar").all()
    ]


def top(counts: Counter, n: int = 5) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))[:n]


def tick_and_submit(pg, indices: list[int]) -> list[list[str]]:
    """Tick the cards at ``indices`` (by clicking the card), submit; return the ticked cards' genres."""
    genres = [card_genres(pg, i) for i in indices]
    for i in indices:
        pg.locator("li.card").nth(i).locator("label").click()
    pg.locator("button[value='submit']").click()
    pg.wait_for_load_state()
    return genres


def test_round_tick_two_submit_and_see_five_new_movies_and_the_genres_change(page, server):
    page.goto(server)
    assert page.locator("h1").inner_text() == "Select the movies you like and submit"
    first = card_ids(page)
    assert len(first) == 5 and len(set(first)) == 5
    assert page.locator(".empty-genres").is_visible() and page.locator("svg.genre-chart").count() == 0
    for card in page.locator("li.card").all():  # every card has its parts
        assert card.locator(".card-title").inner_text().strip()
        assert card.locator(".card-reason").inner_text().strip()
    shot(page, "round-1")
    genres = [card_genres(page, i) for i in (0, 2)]
    page.locator("li.card").nth(0).locator("label").click()
    page.locator("li.card").nth(2).locator("label").click()
    assert (
        page.locator("button[value='submit']").inner_text() == "Submit (2 liked)"
    )  # the script's enhancement
    assert page.locator("input.pick:checked").count() == 2
    shot(page, "round-1-ticked")
    page.locator("button[value='submit']").click()
    page.wait_for_url(server)
    second = card_ids(page)
    assert len(second) == 5 and not set(second) & set(first)
    assert page.locator(".round-number").inner_text() == "2"
    expected = top(Counter(g for gs in genres for g in gs))
    assert expected, "the ticked movies have genres"
    assert genre_table(page) == expected
    assert chart_bars(page) == expected
    widths = [float(r.get_attribute("width")) for r in page.locator("svg.genre-chart rect").all()]
    assert widths[0] == max(widths) > 0
    shot(page, "round-2")
    # a third round: still nothing shown before
    page.locator("button[value='none']").click()
    page.wait_for_url(server)
    third = card_ids(page)
    assert len(third) == 5 and not set(third) & (set(first) | set(second))
    assert genre_table(page) == expected  # "none of these" adds no like


def test_undo_a_like_on_the_taste_page(page, server):
    page.goto(server)
    tick_and_submit(page, [1, 3])
    page.goto(server + "taste")
    assert page.locator(".rounds-count").inner_text() == "1"
    assert page.locator(".likes-count").inner_text() == "2"
    likes = page.locator("li.like")
    titles = [t.inner_text() for t in page.locator("li.like .like-title").all()]
    kept_genres = likes.nth(1).locator(".genres").inner_text().split(", ")
    shot(page, "taste-before-undo")
    likes.nth(0).locator("button", has_text="Undo").click()
    page.wait_for_url(server + "taste")
    assert page.locator(".flash-ok").inner_text() == f"Removed {titles[0]} from your likes."
    assert page.locator(".likes-count").inner_text() == "1"
    assert [t.inner_text() for t in page.locator("li.like .like-title").all()] == [titles[1]]
    assert genre_table(page) == top(Counter(kept_genres), 10)
    shot(page, "taste-after-undo")


def test_search_a_title_and_like_it_then_search_by_meaning(page, server):
    page.goto(server + "search")
    page.fill("#q", "crimson valey")  # lower case and a typo
    page.check("input[name='mode'][value='title']")
    page.locator("form.search-form button[type='submit']").click()
    page.wait_for_load_state()
    first = page.locator("li.result").first
    assert first.locator(".card-title").inner_text() == "Crimson Valley"
    shot(page, "search-title")
    first.locator("button.like-button").click()
    page.wait_for_load_state()
    assert page.locator(".flash-ok").inner_text() == "Liked Crimson Valley."
    assert page.locator("li.result").first.locator(".liked-badge").inner_text() == "Liked ✓"
    assert "q=crimson+valey" in page.url  # back on the same results
    page.fill("#q", "astronauts on a starship travelling through space")
    page.check("input[name='mode'][value='semantic']")
    page.locator("form.search-form button[type='submit']").click()
    page.wait_for_load_state()
    assert "Sci-Fi" in page.locator("li.result").first.locator(".genres").inner_text()
    shot(page, "search-semantic")
    page.goto(server + "taste")
    assert [t.inner_text() for t in page.locator("li.like .like-title").all()] == ["Crimson Valley"]


def test_titles_with_markup_and_non_latin_scripts_are_shown_as_text(page, server):
    page.goto(server + "search?mode=title&q=" + "Tom %26 Jerry")
    assert page.locator("li.result").first.locator(".card-title").inner_text() == EVIL_TITLE
    assert page.locator("li.result script").count() == 0 and page.locator("li.result img").count() == 0
    page.locator("li.result").first.locator("button.like-button").click()
    page.wait_for_load_state()
    assert page.locator(".flash-ok").inner_text() == f"Liked {EVIL_TITLE}."
    page.goto(server + "search?mode=title&q=" + CJK_TITLE)
    assert page.locator("li.result").first.locator(".card-title").inner_text() == CJK_TITLE
    page.goto(server + "taste")
    assert page.locator("li.like .like-title").first.inner_text() == EVIL_TITLE
    shot(page, "escaping")
    # the page's own dialog handler fails the test if any alert() ran


def test_import_a_viewing_history(page, server, tmp_path):
    page.goto(server + "import")
    page.set_input_files("#history", str(history_csv(tmp_path / "NetflixViewingHistory.csv")))
    page.locator("form.upload-form button[type='submit']").click()
    page.wait_for_load_state()
    assert page.locator(".matched-count").inner_text() == "2"
    assert page.locator(".unmatched-count").inner_text() == "1"
    liked_as = sorted(c.inner_text() for c in page.locator("table.matched tbody tr td:nth-child(2)").all())
    assert [re.sub(r" \(\d{4}\)$", "", t) for t in liked_as] == ["Golden Harbor", "Velvet River"]
    assert page.locator("details.unmatched li").all_inner_texts() == ["A Show Nobody Has Heard Of"]
    shot(page, "import-ok")
    page.goto(server + "taste")
    assert page.locator(".likes-count").inner_text() == "2"


def test_a_broken_csv_shows_the_error_and_leaves_the_profile_untouched(page, server, tmp_path):
    page.goto(server)
    tick_and_submit(page, [0])
    page.goto(server + "import")
    page.set_input_files("#history", str(broken_csv(tmp_path / "not-netflix.csv")))
    page.locator("form.upload-form button[type='submit']").click()
    page.wait_for_load_state()
    error = page.locator("div.error")
    assert error.is_visible()
    assert "could not be imported; your profile was not changed" in error.inner_text()
    assert "not-netflix.csv" in error.locator(".error-detail").inner_text()
    shot(page, "import-broken")
    page.goto(server + "taste")
    assert page.locator(".likes-count").inner_text() == "1"
    assert page.locator(".rounds-count").inner_text() == "1"


def test_a_round_submitted_twice_from_two_tabs_is_counted_once(page, server):
    page.goto(server)
    other = page.context.new_page()  # same visitor (same cookie), second tab
    other.goto(server)
    assert card_ids(other) == card_ids(page)  # the same round, deterministic for a given state
    tick_and_submit(page, [0])
    tick_and_submit(other, [1])
    assert "already submitted" in other.locator(".flash-info").inner_text()
    other.close()
    page.goto(server + "taste")
    assert page.locator(".rounds-count").inner_text() == "1"
    assert page.locator(".likes-count").inner_text() == "1"


def test_the_round_works_without_javascript(browser, server):
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    try:
        pg.goto(server)
        first = card_ids(pg)
        pg.locator("li.card").nth(4).locator("label").click()
        assert pg.locator("button[value='submit']").inner_text() == "Submit"  # no script ran
        pg.locator("button[value='submit']").click()
        pg.wait_for_url(server)
        second = card_ids(pg)
        assert len(second) == 5 and not set(second) & set(first)
        assert len(genre_table(pg)) >= 1
        shot(pg, "no-javascript")
    finally:
        context.close()
