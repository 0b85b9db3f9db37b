"""Title normalisation, display and lookup, shared by catalogue linking, the CLI and the web search.

Sources spell one film many ways: MovieLens writes ``"Lion King, The"`` and ``"City of Lost Children,
The (Cité des enfants perdus, La)"``, Netflix writes ``"The Lion King"``, people type ``"lion king 1994"``.
:func:`normalize_title` maps all of these to one comparable key (``"the lion king"``);
:func:`title_keys` adds the alternate titles MovieLens gives in parentheses; :class:`TitleIndex`
resolves a typed title to one item, or says clearly why it cannot.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from nextwatch.errors import NotFoundError

if TYPE_CHECKING:
    import scipy.sparse as sp

log = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Articles MovieLens (and IMDb) move to the end of a title: English plus the French, Spanish,
#: Italian, German, Portuguese, Dutch and Scandinavian ones that occur in MovieLens.
ARTICLES = _words(
    "the a an la le les l' il lo i gli el los las un una une uno der die das ein eine de het det den en "
    "o os as da"
)
_ELIDED = ("l'",)  # articles written without a following space ("L'Auberge espagnole")

# typographic quotes/apostrophes and dashes -> ASCII
_CHAR_MAP = str.maketrans(
    dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'")
    | dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb", '"')
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-")
    | {"\u00bd": " 1/2 "}
)
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+?),\s*(?P<art>[^\s,]+)\s*$")
_AKA = re.compile(r"^\s*(?:a\.k\.a\.?|aka)\s+", re.IGNORECASE)
_YEAR_PAREN = re.compile(r"^\s*(?P<title>.*?)\s*\(\s*(?P<year>\d{4})\s*\)\s*$")
_YEAR_BARE = re.compile(r"^\s*(?P<title>.*\S)\s+(?P<year>\d{4})\s*$")
_DOTS = re.compile(r"(?<=\w)\.(?=\w|\s|$)")
_WORD = re.compile(r"[^\W_]+")

#: Parenthesised words that qualify a release rather than name the film ("Sholay (Hindi)",
#: "Alien (Widescreen)", "Taxi Driver (Collector's Edition)"); such a parenthetical is not an alternate title.
_QUALIFIER_WORDS = _words(
    "version versions edition editions widescreen fullscreen full screen dub dubbed subtitled sub "
    "uncensored unrated rated director directors cut theatrical extended special collectors collector "
    "deluxe limited standard original remastered restored uncut animated silent miniseries mini series "
    "tv documentary double feature plus specials bonus material dvd us u s uk english hindi tamil telugu "
    "malayalam marathi bengali punjabi kannada spanish french german italian japanese korean mandarin "
    "cantonese chinese russian portuguese arabic turkish"
)


def _fold(text: str) -> str:
    """Unify quotes and dashes, strip accents (NFKD, drop combining marks) and casefold."""
    if "`" in text:
        text = text.replace("`", "'")
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_CHAR_MAP))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold()


def _move_article(title: str) -> str:
    """``"Matrix, The"`` -> ``"The Matrix"``; ``"Auberge espagnole, L'"`` -> ``"L'Auberge espagnole"``.

    Only a lone known article after the last comma moves, so ``"Cry, the Beloved Country"`` and
    ``"I, Robot"`` are left alone.
    """
    m = _TRAILING_ARTICLE.match(title)
    if m is None:
        return title
    art = m.group("art")
    folded = _fold(art)
    if folded not in ARTICLES:
        return title
    sep = "" if folded in _ELIDED else " "
    return f"{art}{sep}{m.group('body').strip()}"


def split_parentheticals(title: str) -> tuple[str, list[str]]:
    """Split trailing ``(...)`` groups off a title.

    ``"Seven (a.k.a. Se7en)"`` -> ``("Seven", ["a.k.a. Se7en"])``.

    Groups are taken from the end while they are balanced and preceded by a space; a title that is
    nothing but parentheses (or starts with one, as in ``"(500) Days of Summer"``) keeps them.
    """
    text = title.strip()
    groups: list[str] = []
    while text.endswith(")"):
        depth = 0
        start = -1
        for i in range(len(text) - 1, -1, -1):
            ch = text[i]
            if ch == ")":
                depth += 1
            elif ch == "(":
                depth -= 1
                if depth == 0:
                    start = i
                    break
        if start <= 0 or not text[start - 1].isspace():
            break
        groups.append(text[start + 1 : -1].strip())
        text = text[:start].rstrip()
    groups.reverse()
    return text, groups


def normalize_title(title: str) -> str:
    """The comparison key of a title: casefolded, accent-free, punctuation-free, article in front.

    ``"Matrix, The"``, ``"The Matrix"`` and ``"THE MATRIX!"`` all give ``"the matrix"``;
    ``"Amélie"`` gives ``"amelie"``; ``"Fast & Furious"`` gives ``"fast and furious"``. Parenthesised
    parts are kept (use :func:`title_keys` for the MovieLens alternates).
    """
    if not title:
        return ""
    text = _fold(title.strip())
    # a trailing article may sit before the trailing parentheticals: "Postman, The (Postino, Il)"
    if text.endswith(")"):
        main, groups = split_parentheticals(text)
        text = " ".join([_move_article(main), *(f"({_move_article(g)})" for g in groups)])
    elif "," in text:
        text = _move_article(text)
    # "&" -> "and"; "schindler's" -> "schindlers", "l'auberge" -> "lauberge"
    text = text.replace("&", " and ").replace("'", "")
    if "." in text:
        text = _DOTS.sub("", text)  # "S.W.A.T." -> "swat", "Dr. No" -> "dr no"
    return " ".join(_WORD.findall(text))


def _is_qualifier(group: str) -> bool:
    words = normalize_title(group).split()
    if not words:
        return True
    if all(w.isdigit() for w in words):  # "(2009)", "(1914-1918)"
        return True
    return all(w in _QUALIFIER_WORDS for w in words)


def title_keys(title: str) -> list[str]:
    """The normalised main title followed by its alternates (deduplicated, main first).

    ``"City of Lost Children, The (Cité des enfants perdus, La)"`` ->
    ``["the city of lost children", "la cite des enfants perdus"]``; ``"(a.k.a. X)"`` gives ``"x"``.
    Release qualifiers such as ``"(Widescreen)"`` or ``"(Hindi)"`` are not alternates.
    """
    if not (title or "").rstrip().endswith(")"):
        key = normalize_title(title or "")
        return [key] if key else []
    main, groups = split_parentheticals(title or "")
    keys: list[str] = []
    first = normalize_title(main) if main else normalize_title(title or "")
    if first:
        keys.append(first)
    for g in groups:
        g = _AKA.sub("", g)
        if _is_qualifier(g):
            continue
        k = normalize_title(g)
        if k and k not in keys:
            keys.append(k)
    return keys


def strip_leading_article(key: str) -> str:
    """``"the lion king"`` -> ``"lion king"``: a looser key for people who leave the article off."""
    head, _, rest = key.partition(" ")
    return rest if rest and head in ARTICLES else key


def display_title(title: str) -> str:
    """A title for people: ``"Lion King, The"`` -> ``"The Lion King"``, alternates kept in parentheses.

    ``"City of Lost Children, The (Cité des enfants perdus, La)"`` ->
    ``"The City of Lost Children (La Cité des enfants perdus)"``.
    """
    if not title:
        return ""
    main, groups = split_parentheticals(title)
    if not main:
        return title.strip()
    parts = [_move_article(main)]
    for g in groups:
        m = _AKA.match(g)
        prefix = g[: m.end()] if m else ""
        parts.append(f"({prefix}{_move_article(g[len(prefix) :])})")
    return " ".join(parts)


def _plausible_year(year: int) -> bool:
    return 1870 <= year <= date.today().year + 5


def parse_query(text: str) -> tuple[str, int | None]:
    """Split a typed title into (title text, year or None).

    ``"the lion king 1994"`` -> ``("the lion king", 1994)``; ``"Lion King, The (1994)"`` ->
    ``("Lion King, The", 1994)``; ``"The Lion King"`` -> ``("The Lion King", None)``. A number that
    is the whole text (``"1917"``) or not a plausible year (``"Blade Runner 2049"``) stays part of the
    title; :meth:`TitleIndex.find` also retries a bare trailing year as part of the title
    (``"Death Race 2000"``).
    """
    text = (text or "").strip()
    for pattern in (_YEAR_PAREN, _YEAR_BARE):
        m = pattern.match(text)
        if m and m.group("title").strip() and _plausible_year(int(m.group("year"))):
            return m.group("title").strip(), int(m.group("year"))
    return text, None


def _trigrams(key: str) -> list[str]:
    padded = f"  {key} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


class TitleIndex:
    """Find items by typed title: exact lookup (:meth:`find`) and fuzzy search (:meth:`search`).

    Built once from an items frame (``item_idx``, ``title``, ``year``); lookups are dictionary hits,
    and search is one sparse matrix-vector product over character trigrams, so a 17,770-title
    catalogue answers in milliseconds. ``popularity`` (indexed by ``item_idx``, e.g. rating counts)
    settles ties between equally named titles and orders equal search scores.
    """

    def __init__(self, items: pl.DataFrame, popularity: Sequence[float] | np.ndarray | None = None) -> None:
        self._idx = items["item_idx"].to_numpy().astype(np.int64)
        self._title = items["title"].to_list()
        years = items["year"].to_list() if "year" in items.columns else [None] * items.height
        self._year: list[int | None] = [None if y is None else int(y) for y in years]
        self._row_of = {int(i): r for r, i in enumerate(self._idx)}
        self._pop = None if popularity is None else np.asarray(popularity, dtype=np.float64)
        # key -> (row, rank): 0 the full title (qualifiers included), 1 the main title, 2 an alternate,
        # 3 the main title without its leading article; a lookup keeps the best rank only
        self._exact: dict[str, list[tuple[int, int]]] = defaultdict(list)
        keys: list[str] = []
        key_rows: list[int] = []
        for row, title in enumerate(self._title):
            tk = title_keys(title or "")
            entries = {normalize_title(title or ""): 0}
            for j, k in enumerate(tk):
                entries.setdefault(k, 1 if j == 0 else 2)
                keys.append(k)
                key_rows.append(row)
            if tk:
                entries.setdefault(strip_leading_article(tk[0]), 3)
            for k, rank in entries.items():
                if k:
                    self._exact[k].append((row, rank))
        self._keys = keys
        self._key_rows = np.asarray(key_rows, dtype=np.int64)
        self._matrix, self._vocab = self._build_trigrams(keys)

    @staticmethod
    def _build_trigrams(keys: list[str]) -> tuple[sp.csr_matrix, dict[str, int]]:
        import scipy.sparse as sp  # only an index needs it: keep `import nextwatch.data` light

        vocab: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        for k in keys:
            grams = set(_trigrams(k))
            for g in grams:
                indices.append(vocab.setdefault(g, len(vocab)))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        m = sp.csr_matrix(
            (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(keys), max(1, len(vocab))),
        )
        return m, vocab

    def __len__(self) -> int:
        return len(self._title)

    # -- exact lookup ---------------------------------------------------------------------------
    def label(self, item_idx: int) -> str:
        """``"The Lion King (1994)"`` for messages and lists."""
        row = self._row_of[int(item_idx)]
        year = self._year[row]
        name = display_title(self._title[row] or "")
        return name if year is None else f"{name} ({year})"

    def _popularity(self, row: int) -> float:
        if self._pop is None:
            return 0.0
        i = int(self._idx[row])
        return float(self._pop[i]) if 0 <= i < len(self._pop) else 0.0

    def _candidates(self, title_text: str, year: int | None) -> list[int]:
        """Rows whose keys equal the query's, best tier only; filtered by year when one is given."""
        q_full = normalize_title(title_text)
        qkeys = title_keys(title_text)
        q = qkeys[0] if qkeys else q_full
        hits: dict[int, int] = {}
        # the query as typed, its main title, then its main title without a leading article
        for key, floor in ((q_full, 0), (q, 1), (strip_leading_article(q), 3)):
            for row, rank in self._exact.get(key, []) if key else []:
                rank = max(rank, floor)
                hits[row] = min(rank, hits.get(row, 9))
        if not hits:
            return []
        if year is not None:
            for tolerance in (0, 1):
                near = {
                    r: k
                    for r, k in hits.items()
                    if self._year[r] is not None and abs(self._year[r] - year) <= tolerance
                }  # type: ignore[operator]
                if near:
                    hits = near
                    break
            else:
                return []
        best = min(hits.values())
        return sorted(r for r, k in hits.items() if k == best)

    def find(self, query: str) -> int:
        """The ``item_idx`` of the one item the query names.

        Raises :class:`~nextwatch.errors.NotFoundError` when nothing matches (listing the closest
        titles) or when several items share the title and no year (or popularity) tells them apart
        (listing them with their years).
        """
        title_text, year = parse_query(query)
        rows = self._candidates(title_text, year)
        if not rows and year is not None:  # "Death Race 2000": the number is part of the title
            rows = self._candidates(query.strip(), None)
        if len(rows) == 1:
            return int(self._idx[rows[0]])
        if len(rows) > 1:
            if self._pop is not None:
                pops = [self._popularity(r) for r in rows]
                order = sorted(range(len(rows)), key=lambda i: -pops[i])
                if pops[order[0]] > pops[order[1]]:
                    return int(self._idx[rows[order[0]]])
            listed = ", ".join(self.label(int(self._idx[r])) for r in rows[:10])
            first = display_title(self._title[rows[0]] or "")
            years = [self._year[r] for r in rows]
            if None not in years and len(set(years)) == len(years):
                hint = f"add the year, e.g. {f'{first} {years[0]}'!r}"
            else:  # same year (or none): only the full title as listed tells them apart
                hint = f"give the full title as listed, e.g. {first!r}"
            raise NotFoundError(f"{query!r} matches {len(rows)} titles: {listed}", hint=hint)
        close = [self.label(i) for i, _ in self.search(query, 5)]
        where = f" from {year}" if year is not None else ""
        raise NotFoundError(
            f"no title {title_text!r}{where} in the catalogue",
            hint=("closest: " + "; ".join(close))
            if close
            else "try nextwatch search with a few words of the title",
        )

    # -- fuzzy search ---------------------------------------------------------------------------
    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` best-matching items as ``(item_idx, score)``, score in [0, 1], best first.

        Scores blend trigram overlap (cosine, and the share of the query's trigrams found in the
        title, so a few words find a long title) with difflib's ratio on the best candidates; an
        exact normalised match scores 1.0. A year in the query favours items from that year.
        """
        title_text, year = parse_query(query)
        qkeys = title_keys(title_text)
        if not qkeys or not self._keys or k <= 0:
            return []
        q = qkeys[0]
        grams = [self._vocab[g] for g in set(_trigrams(q)) if g in self._vocab]
        n_q = len(set(_trigrams(q)))
        if not grams:
            return []
        vec = np.zeros(self._matrix.shape[1], dtype=np.float32)
        vec[grams] = 1.0
        overlap = self._matrix @ vec
        key_sizes = np.asarray(self._matrix.getnnz(axis=1), dtype=np.float32)
        cosine = overlap / np.sqrt(np.maximum(key_sizes, 1) * n_q)
        contain = overlap / n_q
        coarse = 0.5 * cosine + 0.5 * contain
        n_cand = min(len(coarse), max(50, 5 * k))
        cand = np.argpartition(-coarse, n_cand - 1)[:n_cand]
        best: dict[int, float] = {}
        for ki in cand:
            if coarse[ki] <= 0:
                continue
            key = self._keys[ki]
            if key == q or key == strip_leading_article(q) or strip_leading_article(key) == q:
                score = 1.0
            else:
                ratio = difflib.SequenceMatcher(None, q, key, autojunk=False).ratio()
                score = 0.95 * (0.4 * ratio + 0.3 * float(cosine[ki]) + 0.3 * float(contain[ki]))
            row = int(self._key_rows[ki])
            if year is not None and self._year[row] is not None:
                score *= 1.0 if self._year[row] == year else 0.9 if abs(self._year[row] - year) <= 1 else 0.8
            if score > best.get(row, -1.0):
                best[row] = score
        ranked = sorted(best.items(), key=lambda rs: (-rs[1], -self._popularity(rs[0]), rs[0]))[:k]
        return [(int(self._idx[r]), round(float(s), 6)) for r, s in ranked]
