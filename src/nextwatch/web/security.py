"""The secret key, CSRF protection and the security headers of every response.

The secret key signs the profile cookie and the round tokens. It comes from the settings
(``SECRET_KEY`` / ``$NEXTWATCH_SECRET_KEY``) or, failing that, is generated once and kept in the
instance folder (mode 0600), so profiles survive a restart and several server processes sharing the
instance folder agree on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

log = logging.getLogger(__name__)

csrf = CSRFProtect()

SECRET_FILE = "secret_key"

# Everything the page needs is served from this origin: no CDN, no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def instance_secret(instance_path: str | os.PathLike[str]) -> str:
    """Read the instance folder's secret key, creating it (0600, atomically) on first use."""
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_FILE
    if not path.exists():
        key = secrets.token_hex(32)
        tmp = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(key + "\n")
                f.flush()
                os.fsync(f.fileno())
            # link() never replaces: if another process won the race, its key is kept and read below
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
                log.info("generated a new secret key in %s", path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); tightening it to 0600", path, mode)
        os.chmod(path, 0o600)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to have a new one generated")
    return key


def init_security(app: Flask) -> None:
    """Set the secret key, switch on CSRF protection and add the security headers."""
    key = app.config.get("SECRET_KEY")
    if not key:
        app.config["SECRET_KEY"] = instance_secret(app.instance_path)
    elif len(str(key)) < 16 and not app.testing:
        log.warning("SECRET_KEY is shorter than 16 characters; anyone who guesses it can forge profiles")
    csrf.init_app(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint != "static":
            # pages and API answers are one visitor's state: never cached, never restored from the
            # back-forward cache with a stale round (the server would refuse it as already submitted)
            response.headers.setdefault("Cache-Control", "no-store")
        return response
