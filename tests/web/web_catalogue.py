"""A tiny, hand-made movie world for the browser tests: MovieLens-latest files and a Netflix-titles
catalogue (descriptions), written by the test into its own folder and fed to the real pipeline.

96 movies in 8 genre families plus two made to test escaping (quotes, ampersand, ``<script>``) and a
non-Latin script; 48 users who each like two families, so collaborative filtering has a signal and
every movie is rated. Descriptions use each family's own vocabulary, so semantic search can find a
family by meaning.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

FAMILIES = {
    "Sci-Fi": "Astronauts travel through space to a distant planet aboard a starship",
    "Horror": "A haunted house hides a ghost that terrifies the family at night",
    "Comedy": "A clumsy best friend causes hilarious chaos at a wedding party",
    "Romance": "Two strangers fall in love during a summer in Paris",
    "Documentary": "A documentary following wildlife across the oceans and rainforests",
    "Animation": "An animated talking animal goes on a colourful adventure with friends",
    "Crime": "Detectives chase a gang of bank robbers planning a daring heist",
    "Western": "A lone cowboy rides across the desert frontier to a dusty town",
}
ADJECTIVES = [
    "Silent",
    "Crimson",
    "Golden",
    "Broken",
    "Hidden",
    "Frozen",
    "Electric",
    "Velvet",
    "Iron",
    "Lucky",
    "Distant",
    "Midnight",
]
NOUNS = ["Harbor", "Valley", "Signal", "Garden", "Horizon", "Engine", "River", "Mirror"]

EVIL_TITLE = 'Tom & Jerry\'s "Big" <script>alert(1)</script>'
CJK_TITLE = "千と千尋の神隠し"


def movies() -> list[dict]:
    """The catalogue: id, title, year, genres, kind, description."""
    out = []
    names = [f"{a} {n}" for n in NOUNS for a in ADJECTIVES]  # 96 distinct titles
    fams = list(FAMILIES)
    for i, name in enumerate(names):
        fam = fams[i % len(fams)]
        second = fams[(i // len(fams)) % len(fams)]
        genres = [fam] if second == fam else [fam, second]
        out.append(
            {
                "movie_id": i + 1,
                "title": name,
                "year": 1980 + (i * 7) % 40,
                "genres": genres,
                "kind": "Movie",
                "description": f"{FAMILIES[fam]}; the story of {name.lower()}.",
            }
        )
    out.append(
        {
            "movie_id": 97,
            "title": EVIL_TITLE,
            "year": 1999,
            "genres": ["Comedy", "Animation"],
            "kind": "Movie",
            "description": 'A cat & a mouse; <img src=x onerror=alert(2)> "quoted" chaos at a party.',
        }
    )
    out.append(
        {
            "movie_id": 98,
            "title": CJK_TITLE,
            "year": 2001,
            "genres": ["Animation", "Fantasy"],
            "kind": "Movie",
            "description": "少女が神々の世界に迷い込む。 A girl wanders into a world of spirits, animated.",
        }
    )
    return out


def write_sources(folder: Path, seed: int = 7) -> dict[str, Path]:
    """Write ``movielens/`` (ratings, movies, links) and ``netflix_titles.csv``; return their paths."""
    rng = random.Random(seed)
    items = movies()
    ml = folder / "movielens"
    ml.mkdir(parents=True, exist_ok=True)
    with open(ml / "movies.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["movieId", "title", "genres"])
        for m in items:
            w.writerow([m["movie_id"], f"{m['title']} ({m['year']})", "|".join(m["genres"])])
    with open(ml / "links.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["movieId", "imdbId", "tmdbId"])
        for m in items:
            w.writerow([m["movie_id"], f"{100000 + m['movie_id']:07d}", 500000 + m["movie_id"]])
    fams = list(FAMILIES)
    by_family = {f: [m["movie_id"] for m in items if m["genres"][0] == f] for f in fams}
    with open(ml / "ratings.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["userId", "movieId", "rating", "timestamp"])
        t = 1_500_000_000
        rated: set[int] = set()
        for user in range(1, 49):
            likes = [fams[(user - 1) % 8], fams[(user - 1) // 8 % 8 - 3]]
            liked = {mid for fam in likes for mid in rng.sample(by_family[fam], 8)}
            others = [m["movie_id"] for m in items if m["movie_id"] not in liked]
            disliked = set(rng.sample(others, 6))
            for mid in sorted(liked | disliked):
                t += 60
                rating = rng.choice([4.0, 4.5, 5.0]) if mid in liked else rng.choice([1.0, 2.0, 2.5])
                w.writerow([user, mid, rating, t])
            rated.update(liked | disliked)
        for m in items:  # every movie rated at least once
            if m["movie_id"] not in rated:
                t += 60
                w.writerow([49, m["movie_id"], 3.0, t])
    nt = folder / "netflix_titles.csv"
    with open(nt, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "show_id",
                "type",
                "title",
                "director",
                "cast",
                "country",
                "date_added",
                "release_year",
                "rating",
                "duration",
                "listed_in",
                "description",
            ]
        )
        for m in items:
            w.writerow(
                [
                    f"s{m['movie_id']}",
                    m["kind"],
                    m["title"],
                    "",
                    "",
                    "",
                    "January 1, 2021",
                    m["year"],
                    "PG",
                    "90 min",
                    ", ".join(m["genres"]),
                    m["description"],
                ]
            )
    return {"movielens": ml, "netflix_titles": nt}


def history_csv(path: Path) -> Path:
    """A viewing-activity export: two known movies (one as a series episode), one unknown show."""
    path.write_text(
        "Title,Date\n"
        '"Golden Harbor: Season 1: Pilot","3/14/21"\n'
        '"Velvet River","3/15/21"\n'
        '"A Show Nobody Has Heard Of: Season 2: Finale","3/16/21"\n',
        encoding="utf-8",
    )
    return path


def broken_csv(path: Path) -> Path:
    """Not a viewing-activity export at all."""
    path.write_text("Name;When;Where\nfoo;bar;baz\n", encoding="utf-8")
    return path
