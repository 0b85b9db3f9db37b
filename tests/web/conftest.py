"""Fixtures of the web tests: an app over the in-memory fake recommender, its test client."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_recommender import FakeRecommender, sample_items

from nextwatch.web import create_app


@pytest.fixture
def fake() -> FakeRecommender:
    return FakeRecommender(sample_items())


@pytest.fixture
def app(fake, tmp_path):
    return create_app(
        {
            "TESTING": True,
            "RECOMMENDER": fake,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key-0123456789abcdef",
            "WARM_UP": False,  # tested once in test_web_config.py; costs seconds on a busy machine
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()
