"""Settings of the web app: defaults, a settings file, environment variables, then explicit values.

Precedence, lowest first:

1. :data:`DEFAULTS` below;
2. a settings file named by ``CONFIG_FILE`` (``nextwatch serve --config FILE``) or ``$NEXTWATCH_CONFIG``:
   TOML (``.toml``), JSON (``.json``) or Python (``.py``, Flask's ``from_pyfile`` style: upper-case names);
3. environment variables :data:`ENVIRONMENT` (``NEXTWATCH_MODEL_DIR``, ``NEXTWATCH_PROFILE_STORE``,
   ``NEXTWATCH_SECRET_KEY``, ``NEXTWATCH_INSTANCE_PATH``);
4. the mapping given to :func:`nextwatch.web.create_app` (the CLI puts its flags there).

Keys are case-insensitive in TOML and JSON files. A key that is neither one of ours nor one of Flask's
own is an error naming the file, so a typo never silently becomes a default.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from nextwatch.errors import InputError

#: Our settings and their defaults (Flask's own settings are accepted too).
DEFAULTS: dict[str, Any] = {
    # model folder served (required unless RECOMMENDER is given)
    "MODEL_DIR": None,
    # profile storage: a SQLite file path or a SQLAlchemy URL; default INSTANCE_PATH/profiles.sqlite3
    "PROFILE_STORE": None,
    # instance folder (secret key, default profile store); default ./var/instance
    "INSTANCE_PATH": None,
    # signing key of the profile cookie; default: generated once into INSTANCE_PATH/secret_key (0600)
    "SECRET_KEY": None,
    # the largest upload accepted (viewing-history CSV), bytes
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    # movies per round
    "ROUND_SIZE": 5,
    # results per search
    "SEARCH_RESULTS": 10,
    # genres in the round page's table and chart, and on the taste page
    "TOP_GENRES": 5,
    "TASTE_GENRES": 10,
    # BLAS/OpenMP threads per request thread when serving (0: library defaults); see web.serve
    "LIBRARY_THREADS": 1,
    # at start: compile templates, build the title index, load the sentence encoder (see create_app)
    "WARM_UP": True,
    # an already-open recommender object (tests, `nextwatch demo`); wins over MODEL_DIR
    "RECOMMENDER": None,
    # settings file (read only at start)
    "CONFIG_FILE": None,
    # cookie: signed, HttpOnly, SameSite=Lax (see docs/web.md for why not Strict)
    "SESSION_COOKIE_NAME": "nextwatch",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=365),
    # CSRF tokens live as long as the session cookie they are bound to
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_SSL_STRICT": True,
}

#: The settings nextwatch itself adds (named in the hint for an unknown key).
OWN_KEYS = (
    "MODEL_DIR", "PROFILE_STORE", "INSTANCE_PATH", "SECRET_KEY", "MAX_CONTENT_LENGTH",
    "ROUND_SIZE", "SEARCH_RESULTS", "TOP_GENRES", "TASTE_GENRES", "LIBRARY_THREADS", "WARM_UP",
)  # fmt: skip

#: Environment variable -> setting.
ENVIRONMENT: dict[str, str] = {
    "NEXTWATCH_MODEL_DIR": "MODEL_DIR",
    "NEXTWATCH_PROFILE_STORE": "PROFILE_STORE",
    "NEXTWATCH_SECRET_KEY": "SECRET_KEY",
    "NEXTWATCH_INSTANCE_PATH": "INSTANCE_PATH",
}

_INT_LIMITS: dict[str, tuple[int, int]] = {
    "MAX_CONTENT_LENGTH": (1024, 1 << 30),
    "ROUND_SIZE": (1, 20),
    "SEARCH_RESULTS": (1, 100),
    "TOP_GENRES": (1, 50),
    "TASTE_GENRES": (1, 50),
    "LIBRARY_THREADS": (0, 256),
}

_PATHS = ("MODEL_DIR", "INSTANCE_PATH", "CONFIG_FILE")


def known_keys() -> set[str]:
    """Every setting name accepted: ours, Flask's and flask-wtf's."""
    wtf = {
        "WTF_CSRF_ENABLED",
        "WTF_CSRF_CHECK_DEFAULT",
        "WTF_CSRF_SECRET_KEY",
        "WTF_CSRF_METHODS",
        "WTF_CSRF_FIELD_NAME",
        "WTF_CSRF_HEADERS",
        "WTF_CSRF_TIME_LIMIT",
        "WTF_CSRF_SSL_STRICT",
    }
    return set(DEFAULTS) | set(Flask.default_config) | wtf


def load_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a settings file (TOML, JSON or Python) into a dict of upper-case keys.

    Raises :class:`InputError` naming the file for an unreadable file, a bad format or an unknown key.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("settings file not found", path=p)
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            with open(p, "rb") as f:
                raw: Any = tomllib.load(f)
        elif suffix == ".json":
            with open(p, encoding="utf-8") as f:
                raw = json.load(f)
        elif suffix == ".py":
            scratch = Flask("nextwatch_settings_reader")
            scratch.config.clear()
            scratch.config.from_pyfile(str(p.absolute()))
            raw = dict(scratch.config)
        else:
            raise InputError(
                f"unknown settings file type {suffix!r}", path=p, hint="use a .toml, .json or .py file"
            )
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"not valid TOML: {e}", path=p) from None
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg}", path=p, line=e.lineno) from None
    except (OSError, UnicodeDecodeError, SyntaxError) as e:
        raise InputError(f"cannot read settings: {e}", path=p) from None
    if not isinstance(raw, dict):
        raise InputError("settings must be a table/object of names to values", path=p)
    out = {str(k).upper(): v for k, v in raw.items()}
    check(out, source=p)
    base = p.absolute().parent
    for key in _PATHS:  # relative paths in a file are relative to the file
        if isinstance(out.get(key), str) and not Path(out[key]).is_absolute():
            out[key] = str(base / out[key])
    store = out.get("PROFILE_STORE")
    if isinstance(store, str) and "://" not in store and not Path(store).is_absolute():
        out["PROFILE_STORE"] = str(base / store)
    return out


def check(settings: Mapping[str, Any], *, source: str | os.PathLike[str] | None = None) -> None:
    """Reject unknown keys and out-of-range numbers, naming ``source`` (a file) when given."""
    known = known_keys()
    unknown = sorted(k for k in settings if k not in known)
    if unknown:
        ours = ", ".join(OWN_KEYS)
        raise InputError(
            f"unknown setting(s) {', '.join(unknown)}", path=source, hint=f"nextwatch settings: {ours}"
        )
    for key, (lo, hi) in _INT_LIMITS.items():
        if key in settings:
            value = settings[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InputError(
                    f"{key} must be a whole number from {lo} to {hi}, not {value!r}", path=source
                )


def resolve(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge defaults, the settings file, the environment and ``overrides`` (see the module docstring)."""
    environ = os.environ if environ is None else environ
    overrides = {str(k).upper(): v for k, v in (overrides or {}).items()}
    check(overrides)
    settings = dict(DEFAULTS)
    config_file = overrides.get("CONFIG_FILE") or environ.get("NEXTWATCH_CONFIG")
    if config_file:
        settings.update(load_file(config_file))
        settings["CONFIG_FILE"] = str(config_file)
    for var, key in ENVIRONMENT.items():
        if environ.get(var):
            settings[key] = environ[var]
    settings.update({k: v for k, v in overrides.items() if v is not None or k not in settings})
    return settings
