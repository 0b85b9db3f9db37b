"""Settings of the web app (file, environment, overrides), the secret key, and the app factory's errors."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from nextwatch.errors import InputError, NextwatchError
from nextwatch.web import create_app
from nextwatch.web.config import DEFAULTS, load_file, resolve
from nextwatch.web.security import instance_secret


def test_precedence_defaults_file_environment_overrides(tmp_path):
    f = tmp_path / "web.toml"
    f.write_text(
        'model_dir = "models/m1"\nround_size = 7\nsearch_results = 4\nsecret_key = "from-file-0123456789"\n'
    )
    env = {
        "NEXTWATCH_CONFIG": str(f),
        "NEXTWATCH_SECRET_KEY": "from-env-0123456789",
        "NEXTWATCH_PROFILE_STORE": "p.db",
    }
    s = resolve({"SEARCH_RESULTS": 12, "MODEL_DIR": None}, environ=env)
    assert s["MODEL_DIR"] == str(tmp_path / "models" / "m1")  # relative to the file; None does not override
    assert s["ROUND_SIZE"] == 7  # file over default
    assert s["SECRET_KEY"] == "from-env-0123456789"  # environment over file
    assert s["PROFILE_STORE"] == "p.db"
    assert s["SEARCH_RESULTS"] == 12  # explicit over everything
    assert s["TOP_GENRES"] == DEFAULTS["TOP_GENRES"] == 5
    assert resolve(environ={})["ROUND_SIZE"] == 5


def test_json_and_python_settings_files(tmp_path):
    j = tmp_path / "web.json"
    j.write_text(json.dumps({"ROUND_SIZE": 3, "profile_store": "postgresql+psycopg://u@h/db"}))
    assert load_file(j) == {
        "ROUND_SIZE": 3,
        "PROFILE_STORE": "postgresql+psycopg://u@h/db",
    }  # URLs kept as they are
    p = tmp_path / "web.py"
    p.write_text("MODEL_DIR = '/abs/model'\nMAX_CONTENT_LENGTH = 2 * 1024 * 1024\nhelper = 1\n")
    assert load_file(p) == {"MODEL_DIR": "/abs/model", "MAX_CONTENT_LENGTH": 2097152}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.toml", "modle_dir = 'x'\n", "unknown setting(s) MODLE_DIR"),
        ("b.toml", "round_size = 0\n", "ROUND_SIZE must be a whole number from 1 to 20, not 0"),
        ("c.toml", "round_size = true\n", "ROUND_SIZE must be a whole number"),
        ("d.toml", "model_dir = \n", "not valid TOML"),
        ("e.json", '{"ROUND_SIZE": 3,}', "not valid JSON"),
        ("f.json", "[1, 2]", "settings must be a table"),
        ("g.yaml", "a: 1", "unknown settings file type '.yaml'"),
    ],
)
def test_bad_settings_files_name_the_file(tmp_path, name, text, message):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(InputError) as e:
        load_file(f)
    assert message in e.value.message and str(f) in e.value.message


def test_missing_settings_file_and_unknown_override():
    with pytest.raises(InputError, match="settings file not found"):
        resolve({"CONFIG_FILE": "/nonexistent/web.toml"}, environ={})
    with pytest.raises(InputError, match="unknown setting"):
        resolve({"ROUNDS": 3}, environ={})


def test_create_app_without_a_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NEXTWATCH_MODEL_DIR", raising=False)
    monkeypatch.delenv("NEXTWATCH_CONFIG", raising=False)
    with pytest.raises(NextwatchError) as e:
        create_app({"INSTANCE_PATH": str(tmp_path)})
    assert e.value.message == "no model to serve" and "--model" in e.value.hint


def test_create_app_reads_the_settings_file_named_in_the_environment(fake, tmp_path, monkeypatch):
    f = tmp_path / "web.toml"
    f.write_text("round_size = 3\ntop_genres = 2\n")
    monkeypatch.setenv("NEXTWATCH_CONFIG", str(f))
    app = create_app({"TESTING": True, "RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path / "i")})
    assert app.config["ROUND_SIZE"] == 3
    body = app.test_client().get("/api/v1/round").json
    assert [it["item_id"] for it in body["items"]] == ["1", "2", "3"]


def test_instance_secret_is_generated_once_private_and_shared_by_racing_processes(tmp_path):
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(instance_secret(tmp_path / "inst"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    path = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path / "inst")) == ["secret_key"]  # no temporary files left behind
    os.chmod(path, 0o644)
    assert instance_secret(tmp_path / "inst") == keys[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened
    path.write_text("short\n")
    with pytest.raises(RuntimeError, match="no usable secret key"):
        instance_secret(tmp_path / "inst")


def test_configured_secret_key_is_used_and_no_file_is_written(fake, tmp_path):
    app = create_app({"RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 40})
    assert app.config["SECRET_KEY"] == "s" * 40
    assert not (tmp_path / "secret_key").exists()


def test_serve_command_without_a_model_exits_2_with_a_hint_and_writes_nothing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from nextwatch.cli import main

    for var in ("NEXTWATCH_MODEL_DIR", "NEXTWATCH_CONFIG", "NEXTWATCH_INSTANCE_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "no model to serve" in result.output and "--model" in result.output
    assert list(tmp_path.iterdir()) == []  # no instance folder, no secret key for a server that never ran


def test_warm_up_compiles_templates_and_runs_one_search_of_each_kind(fake, tmp_path, caplog):
    from nextwatch.errors import NextwatchError as NE

    searched = []
    fake.search_titles = lambda q, k=10: searched.append(("title", q, k)) or []

    def no_content(q, k=10):
        searched.append(("semantic", q, k))
        raise NE("semantic search needs the content model (embeddings), which is not loaded")

    fake.search_semantic = no_content
    with caplog.at_level("WARNING", logger="nextwatch.web"):
        app = create_app({"RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32})
    assert searched == [("title", "warm up", 1), ("semantic", "warm up", 1)]
    assert {"round.html", "taste.html", "error.html"} <= {name for _, name in app.jinja_env.cache}
    assert "search is not fully available: semantic search needs the content model" in caplog.text
    cold = create_app({"RECOMMENDER": fake, "INSTANCE_PATH": str(tmp_path), "WARM_UP": False})
    assert len(searched) == 2 and not cold.jinja_env.cache
