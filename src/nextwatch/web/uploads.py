"""Viewing-history uploads: the uploaded file handed to the recommender's importer, errors named by
the name the person chose (not the temporary path it was saved under)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage

from nextwatch.errors import InputError


def display_name(upload: FileStorage | None) -> str:
    """The uploaded file's base name, shortened, for messages (it is escaped wherever it is shown)."""
    name = Path((upload.filename if upload is not None else None) or "upload").name
    return name if len(name) <= 80 else name[:77] + "..."


def import_upload(sess: Any, upload: FileStorage | None, tmp_root: str | None = None) -> Any:
    """Save ``upload`` to a private temporary file and import it into ``sess``.

    Returns the recommender's ImportReport. Raises :class:`InputError` (message naming the upload,
    with the line when known) for a missing, empty or malformed file; the importer leaves the
    profile untouched in that case.
    """
    if upload is None or not upload.filename:
        raise InputError("no file was chosen: pick your NetflixViewingHistory.csv and upload it again")
    name = display_name(upload)
    with tempfile.TemporaryDirectory(prefix="nextwatch-upload-", dir=tmp_root) as tmp:
        path = Path(tmp) / "viewing-history.csv"
        upload.save(path)
        if path.stat().st_size == 0:
            raise InputError("the file is empty", path=name)
        try:
            return sess.import_history(path)
        except InputError as e:
            raise InputError(e.detail, path=name, line=e.line, hint=e.hint) from None
