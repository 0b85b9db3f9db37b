"""Fixtures for the recommend tests: a real PostgreSQL server that the test session starts itself.

``postgres_server`` runs Debian's ``postgresql`` binaries (``/usr/lib/postgresql/*/bin``): ``initdb``
into a temporary folder and ``pg_ctl start`` on a free port on 127.0.0.1, with its Unix socket in
that folder, durability switched off (it is thrown away) and trust authentication on loopback.
``initdb`` refuses to run as root, so as root both run as the ``postgres`` system user through
``runuser``. The server is stopped, and its folder removed, when the session ends. It starts
only when a test asks for it, and skips that test with the reason when the binaries are absent.

``postgres_url`` gives each test a fresh schema of that server (selected through ``search_path``
in the URL), so tests never see each other's tables.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_USER = "nextwatch"
PG_DATABASE = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str

    def url(self, *, schema: str | None = None) -> str:
        base = f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"
        return base if schema is None else f"{base}?options=-csearch_path%3D{schema}"

    def conninfo(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.database}"


def _pg_bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server on 127.0.0.1 for this test session."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
            "(apt-get install -y postgresql, or `make system-deps` as root)"
        )
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' system user to run initdb as")
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root and runuser (util-linux) is absent: cannot drop to 'postgres'")
        prefix = [runuser, "-u", "postgres", "--"]

    root = Path(tempfile.mkdtemp(prefix="nextwatch-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, log_file = root / "data", root / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120, check=False)

    init = run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        PG_USER,
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}")

    started, port, out = False, 0, ""
    for _ in range(3):  # a free port can be taken between choosing and binding it: try another
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        start = run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log_file),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        out = start.stdout + start.stderr
        if start.returncode == 0:
            started = True
            break
    if not started:
        server_log = log_file.read_text(errors="replace") if log_file.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed:\n{out}\n{server_log}")
    try:
        yield PostgresServer("127.0.0.1", port, PG_USER, PG_DATABASE)
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A SQLAlchemy URL to a new, empty schema of the session's PostgreSQL server."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is needed for the PostgreSQL tests")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with contextlib.closing(psycopg.connect(postgres_server.conninfo(), autocommit=True)) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return postgres_server.url(schema=schema)
