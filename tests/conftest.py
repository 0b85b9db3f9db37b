"""Shared fixtures.

Unit tests write their own tiny fixtures. Integration tests read the real data in ``../shared/data``
(or ``$NEXTWATCH_SHARED_DATA``) through :func:`shared_data`, and skip with a clear reason where it
is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEXTWATCH_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("NEXTWATCH_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real shared data sets; skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set NEXTWATCH_SHARED_DATA to its folder)")
    return SHARED_DATA


def require(path: Path) -> Path:
    """Skip the calling test with a clear reason unless ``path`` exists."""
    if not path.exists():
        pytest.skip(f"needs {path}, which is absent here")
    return path
