"""``nextwatch.web.serve``: the app on waitress in a child process, over real sockets.

Checks what only a real server shows: the URL printed once listening on a free port, the friendly
413 page for an oversized upload arriving through waitress, and a clean exit on SIGTERM.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).parent

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from fake_recommender import FakeRecommender, sample_items
    from nextwatch.web import create_app, serve
    app = create_app({"RECOMMENDER": FakeRecommender(sample_items()), "INSTANCE_PATH": sys.argv[2],
                      "MAX_CONTENT_LENGTH": 4096})
    serve(app, host="127.0.0.1", port=0, threads=2, ready=lambda url: print("URL", url, flush=True))
    print("stopped", flush=True)
    """
)


def test_serve_on_a_free_port_answers_and_stops_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(HERE), str(tmp_path / "inst")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("URL http://127.0.0.1:"), line + proc.stderr.read()
        url = urlsplit(line.split()[1])
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and b'"status":"ok"' in r.read().replace(b" ", b"")
        assert r.getheader("Server") == "nextwatch"
        # an upload over MAX_CONTENT_LENGTH gets the app's own page through waitress
        body = b"x" * 10_000
        conn.request(
            "POST", "/import", body=body, headers={"Content-Type": "multipart/form-data; boundary=zz"}
        )
        r = conn.getresponse()
        page = r.read().decode()
        assert r.status == 413 and "Uploads are limited to 4 KiB" in page
        conn.close()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stopped" in out
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serving_caps_library_thread_pools_at_the_setting():
    threadpoolctl = __import__("pytest").importorskip("threadpoolctl")
    import numpy  # noqa: F401  (loads the BLAS library whose pool is capped)

    from nextwatch.web import _limit_library_threads

    with threadpoolctl.threadpool_limits(limits=2):  # restores the pools on exit
        _limit_library_threads(1)
        pools = threadpoolctl.threadpool_info()
        assert pools and all(p["num_threads"] == 1 for p in pools)
        _limit_library_threads(0)  # 0: leave alone
        assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info())
