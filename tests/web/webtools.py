"""Helpers of the web tests: read forms and cards out of served HTML (stdlib parser, no browser)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: list[dict[str, Any]] = []
        self.cards: list[str] = []
        self.rows: list[list[str]] = []
        self.bars: list[dict[str, Any]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input":
            self.inputs.append(a)
        elif tag == "li" and "card" in (a.get("class") or "").split():
            self.cards.append(a["data-item-id"] or "")
        elif tag == "table":
            self._table = a.get("class")
        elif tag == "tr" and self._table == "genre-table":
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "g" and a.get("class") == "bar":
            self.bars.append({"genre": a["data-genre"], "count": int(a["data-count"] or 0)})
        elif tag == "rect" and self.bars:
            self.bars[-1]["width"] = float(a["width"] or 0)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str | bytes) -> _Collector:
    c = _Collector()
    c.feed(html.decode("utf-8") if isinstance(html, bytes) else html)
    return c


def hidden(html: str | bytes, name: str) -> str:
    """The value of the first hidden input called ``name``."""
    for a in parse(html).inputs:
        if a.get("name") == name and a.get("type") == "hidden":
            return a.get("value") or ""
    raise AssertionError(f"no hidden input {name!r} in the page")


def round_state(html: str | bytes) -> dict[str, Any]:
    """What a round page shows: card item ids, the checkbox (name, value) pairs, the tokens, genres."""
    c = parse(html)
    return {
        "cards": c.cards,
        "checkboxes": [(a.get("name"), a.get("value")) for a in c.inputs if a.get("type") == "checkbox"],
        "round_token": hidden(html, "round_token"),
        "csrf_token": hidden(html, "csrf_token"),
        "genres": [(r[0], int(r[1])) for r in c.rows],
        "bars": c.bars,
    }
