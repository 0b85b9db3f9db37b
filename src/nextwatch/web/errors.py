"""Error pages and JSON errors: a person sees a clear message, never a stack trace.

Under ``/api/`` every error is JSON ``{"error": {"status", "code", "message", "field"?}}``; elsewhere
an HTML page in the site's layout. User errors from the library (:class:`nextwatch.errors.InputError`,
:class:`~nextwatch.errors.NotFoundError`) become 400/404 with their message; anything unexpected is
logged with its traceback and answered with a plain 500 that names a reference the log also holds.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from nextwatch.errors import InputError, NextwatchError, NotFoundError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A validation error in a JSON API request, answered as JSON with a 4xx status."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


_TITLES = {
    400: "That request could not be handled",
    404: "Page not found",
    405: "Method not allowed",
    413: "That file is too large",
    415: "Unsupported content type",
    500: "Something went wrong on our side",
}

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _limit_text() -> str:
    from flask import current_app

    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    return f"{limit / (1024 * 1024):.0f} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def error_response(status: int, code: str, message: str, *, field: str | None = None) -> tuple[Any, int]:
    """The error as JSON (API) or as a page (everything else)."""
    if wants_json():
        body: dict[str, Any] = {"status": status, "code": code, "message": message}
        if field is not None:
            body["field"] = field
        return jsonify({"error": body}), status
    title = _TITLES.get(status, "That request could not be handled")
    return render_template("error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(e: ApiError) -> tuple[Any, int]:
        return error_response(e.status, e.code, e.message, field=e.field)

    @app.errorhandler(CSRFError)
    def _csrf(e: CSRFError) -> tuple[Any, int]:
        if wants_json():
            return error_response(
                400,
                "csrf",
                f"{e.description} Send the token from GET /api/v1/csrf-token in the X-CSRFToken header.",
            )
        return error_response(
            400,
            "csrf",
            "This form has expired or was not sent from this site. Go back, reload the page and try again.",
        )

    @app.errorhandler(413)
    def _too_large(e: HTTPException) -> tuple[Any, int]:
        return error_response(
            413, "too_large", f"Uploads are limited to {_limit_text()}. Please choose a smaller file."
        )

    @app.errorhandler(NotFoundError)
    def _not_found(e: NotFoundError) -> tuple[Any, int]:
        return error_response(404, "not_found", e.message)

    @app.errorhandler(InputError)
    def _input(e: InputError) -> tuple[Any, int]:
        return error_response(400, "invalid_input", e.detail)

    @app.errorhandler(NextwatchError)
    def _nextwatch(e: NextwatchError) -> tuple[Any, int]:
        return error_response(400, "invalid_input", e.message)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response | tuple[Any, int]:
        status = e.code or 500
        if status < 400:  # redirects raised as exceptions (RequestRedirect)
            return e.get_response()
        messages = {
            404: "There is nothing at this address.",
            405: f"{request.method} is not allowed here.",
        }
        message = messages.get(status) or (e.description or _TITLES.get(status, "Error"))
        return error_response(status, _CODES.get(status, "http_error"), message)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> tuple[Any, int]:
        ref = secrets.token_hex(4)
        log.exception("unhandled error %s on %s %s", ref, request.method, request.path)
        return error_response(
            500, "internal_error", f"An unexpected error happened (reference {ref}). It has been logged."
        )
