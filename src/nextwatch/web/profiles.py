"""The visitor's profile (a random id in the signed session cookie) and the rounds of five.

No log-in: the first request of a browser gets a random profile id, kept in Flask's signed session
cookie for a year. The recommender keeps the profile itself (likes, shown, rounds) under that id.

A round travels as a *round token*: the ids shown, the number of rounds completed when it was shown
and the profile id, signed with the app's secret key. Submitting a round checks the signature, that
the ticked ids were in the round, and that the round is still the current one: a resubmitted form
(back button, double click, a second tab) is recognised and not counted twice. The round id derived
from the token is passed to the recommender too, so the storage can refuse a duplicate that races.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, session
from itsdangerous import BadSignature, URLSafeSerializer

PROFILE_KEY = "pid"
_PID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_ROUND_SALT = "nextwatch-round-v1"


class RoundError(Exception):
    """A round token or a set of ticks that cannot be accepted (400 for the client)."""

    def __init__(self, message: str, *, field: str = "round_token") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Round:
    """One round as shown: its items (Recommendation objects), its number and its signed token."""

    number: int
    items: list[Any]
    token: str


@dataclass(frozen=True)
class Ticket:
    """A verified round token: what was shown, at which round, and the round's id."""

    number: int
    shown: tuple[str, ...]
    round_id: str


def recommender() -> Any:
    """The app's recommender (opened once at start)."""
    return current_app.extensions["nextwatch"]["recommender"]


def profile_id() -> str:
    """This visitor's profile id, created (random, 128 bits) on the first request."""
    pid = session.get(PROFILE_KEY)
    if not isinstance(pid, str) or not _PID_RE.match(pid):
        pid = secrets.token_urlsafe(16)
        session[PROFILE_KEY] = pid
        session.permanent = True
    return pid


def profile_session() -> Any:
    """The recommender session of this visitor, opened once per request."""
    if "nw_session" not in g:
        g.nw_session = recommender().session(profile_id())
    return g.nw_session


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_ROUND_SALT)


def _round_id(pid: str, number: int, shown: Sequence[str]) -> str:
    digest = hashlib.sha256("\x1f".join([pid, str(number), *shown]).encode("utf-8")).hexdigest()
    return f"r{number}-{digest[:20]}"


def new_round(sess: Any, k: int) -> Round:
    """The next ``k`` recommendations for ``sess`` with a token that identifies this round."""
    items = list(sess.next(k=k))
    number = int(sess.rounds)
    token = _serializer().dumps({"p": profile_id(), "n": number, "s": [it.item_id for it in items]})
    return Round(number=number, items=items, token=str(token))


def read_ticket(token: Any) -> Ticket:
    """Verify a round token from a form or JSON body; raise :class:`RoundError` if it is not valid here."""
    if not isinstance(token, str) or not token:
        raise RoundError("round_token is missing: submit the form of a round that was shown to you")
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise RoundError("round_token is not valid (expired, altered, or from another server)") from None
    pid = profile_id()
    if not isinstance(data, dict) or data.get("p") != pid:
        raise RoundError("this round was shown to another profile; here is a fresh one")
    shown = tuple(str(x) for x in data.get("s", []))
    number = int(data.get("n", -1))
    return Ticket(number=number, shown=shown, round_id=_round_id(pid, number, shown))


def submit_round(sess: Any, ticket: Ticket, liked: Sequence[str]) -> bool:
    """Record ``liked`` (ticked) and the rest of the round as shown-not-liked.

    Returns False, recording nothing, when the round was already submitted (the profile has moved on).
    Raises :class:`RoundError` if a ticked id was not in the round.
    """
    liked = list(dict.fromkeys(str(x) for x in liked))
    stray = [x for x in liked if x not in ticket.shown]
    if stray:
        raise RoundError(f"item {stray[0]!r} was not in this round", field="liked")
    if ticket.number != int(sess.rounds) or not ticket.shown:
        return False
    sess.feedback(liked=liked, shown=list(ticket.shown), round_id=ticket.round_id)
    return True
