"""The OpenAPI 3.1 document of the JSON API, served at ``/api/v1/openapi.json``.

Written by hand next to the routes it describes; a test checks that every ``/api/v1`` route of the
app appears here with its methods, and that nothing here is missing from the app.
"""

from __future__ import annotations

from typing import Any

from nextwatch import __version__


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = {"$ref": "#/components/responses/Error"}
_CSRF = [{"csrfToken": []}]


def _post(
    summary: str, body: dict[str, Any] | None, ok: dict[str, Any], errors: tuple[int, ...]
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "security": _CSRF, "responses": {"200": ok}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    for code in errors:
        op["responses"][str(code)] = _ERR
    return op


def openapi_document() -> dict[str, Any]:
    """The API description as a JSON-ready dict."""
    item_id_body = {
        "type": "object",
        "required": ["item_id"],
        "properties": {"item_id": {"type": "string", "minLength": 1, "maxLength": 200}},
    }
    k_param = {
        "name": "k",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
        "description": "movies per round",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nextwatch API",
            "version": __version__,
            "description": (
                "Rounds of movie recommendations for one visitor, identified by the signed session cookie "
                "`nextwatch` (set on the first request). Every POST needs the header `X-CSRFToken` with "
                "the token from `GET /api/v1/csrf-token` for the same cookie. Errors are JSON "
                '`{"error": {"status", "code", "message", "field"?}}` with a 4xx/5xx status.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/csrf-token": {
                "get": {
                    "summary": "The CSRF token of this session, for the X-CSRFToken header of POSTs",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["csrf_token"],
                                "properties": {
                                    "csrf_token": {"type": "string"},
                                    "header": {"type": "string"},
                                },
                            },
                            "the token",
                        )
                    },
                }
            },
            "/api/v1/round": {
                "get": {
                    "summary": "The next round: movies never shown or liked before, with a round token",
                    "parameters": [k_param],
                    "responses": {"200": _json(_ref("Round"), "a round"), "400": _ERR},
                }
            },
            "/api/v1/feedback": {
                "post": _post(
                    "Submit a round: the ticked item ids; the rest of the round counts as shown-not-liked",
                    {
                        "type": "object",
                        "required": ["round_token"],
                        "properties": {
                            "round_token": {"type": "string", "description": "from the round being answered"},
                            "liked": {"type": "array", "items": {"type": "string"}, "default": []},
                        },
                    },
                    _json(
                        {
                            "type": "object",
                            "required": ["recorded", "rounds_done", "next"],
                            "properties": {
                                "recorded": {
                                    "type": "boolean",
                                    "description": "false for a round already submitted",
                                },
                                "rounds_done": {"type": "integer"},
                                "next": _ref("Round"),
                            },
                        },
                        "recorded, with the next round",
                    ),
                    (400, 415),
                )
            },
            "/api/v1/like": {
                "post": _post(
                    "Like a movie directly (e.g. a search result)",
                    item_id_body,
                    _json(
                        {
                            "type": "object",
                            "properties": {"liked": _ref("Item"), "likes": {"type": "integer"}},
                        },
                        "liked",
                    ),
                    (400, 404, 415),
                )
            },
            "/api/v1/undo": {
                "post": _post(
                    "Remove a like",
                    item_id_body,
                    _json(
                        {
                            "type": "object",
                            "properties": {"removed": {"type": "string"}, "likes": {"type": "integer"}},
                        },
                        "removed",
                    ),
                    (400, 404, 415),
                )
            },
            "/api/v1/likes": {
                "get": {
                    "summary": "The liked movies, newest first, and the number of rounds",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "likes": {"type": "array", "items": _ref("Item")},
                                    "rounds_done": {"type": "integer"},
                                },
                            },
                            "likes",
                        )
                    },
                }
            },
            "/api/v1/genres": {
                "get": {
                    "summary": "Top genres of the liked movies, by count",
                    "parameters": [
                        {
                            "name": "n",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "genres": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "genre": {"type": "string"},
                                                "count": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "rounds_done": {"type": "integer"},
                                },
                            },
                            "genres",
                        ),
                        "400": _ERR,
                    },
                }
            },
            "/api/v1/search": {
                "get": {
                    "summary": "Title search (typos allowed) or semantic search over descriptions",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                        },
                        {
                            "name": "mode",
                            "in": "query",
                            "schema": {"enum": ["title", "semantic"], "default": "title"},
                        },
                        {
                            "name": "k",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "query": {"type": "string"},
                                    "mode": {"type": "string"},
                                    "items": {"type": "array", "items": _ref("Item")},
                                },
                            },
                            "results",
                        ),
                        "400": _ERR,
                    },
                }
            },
            "/api/v1/import": {
                "post": {
                    "summary": "Import a Netflix viewing-activity CSV; matched titles become likes",
                    "security": _CSRF,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {
                                        "file": {"type": "string", "contentMediaType": "text/csv"}
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "n_rows": {"type": "integer"},
                                    "matched": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "history_title": {"type": "string"},
                                                "item": _ref("Item"),
                                            },
                                        },
                                    },
                                    "unmatched": {"type": "array", "items": {"type": "string"}},
                                    "likes": {"type": "integer"},
                                },
                            },
                            "the import report",
                        ),
                        "400": _ERR,
                        "413": _ERR,
                        "415": _ERR,
                    },
                }
            },
            "/api/v1/reset": {
                "post": _post(
                    "Forget this profile's likes, shown movies and rounds",
                    None,
                    _json({"type": "object", "properties": {"reset": {"type": "boolean"}}}, "reset"),
                    (400,),
                )
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1 JSON"}},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Health check: the recommender is loaded",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "status": {"const": "ok"},
                                    "items": {"type": "integer"},
                                    "dataset_fingerprint": {"type": "string"},
                                },
                            },
                            "healthy",
                        )
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
                "profileCookie": {"type": "apiKey", "in": "cookie", "name": "nextwatch"},
            },
            "responses": {"Error": _json(_ref("Error"), "an error")},
            "schemas": {
                "Item": {
                    "type": "object",
                    "required": ["item_id", "title"],
                    "properties": {
                        "item_id": {"type": "string"},
                        "title": {"type": "string"},
                        "year": {"type": ["integer", "null"]},
                        "genres": {"type": "array", "items": {"type": "string"}},
                        "kind": {"type": ["string", "null"]},
                        "description": {"type": ["string", "null"]},
                        "score": {"type": ["number", "null"]},
                        "reason": {"type": ["string", "null"]},
                        "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                    },
                },
                "Round": {
                    "type": "object",
                    "required": ["round_token", "round", "items"],
                    "properties": {
                        "round_token": {"type": "string"},
                        "round": {"type": "integer", "minimum": 1},
                        "rounds_done": {"type": "integer"},
                        "items": {"type": "array", "items": _ref("Item")},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["status", "code", "message"],
                            "properties": {
                                "status": {"type": "integer"},
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
    }
