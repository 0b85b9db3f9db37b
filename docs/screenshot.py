"""Regenerate ``docs/screenshot.png`` (the README's picture of the round page).

    python docs/screenshot.py --model var/demo/model [--out docs/screenshot.png]

Starts ``nextwatch serve`` on a free port with a throw-away profile store, opens the round page in
Debian's Chromium (``/usr/bin/chromium``), ticks two movies, submits, and photographs round 2 with
its genre table and chart.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("screenshot.png"))
    ap.add_argument("--tick", default="0,2", help="cards to tick in round 1 (0-based)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    exe = Path(sys.executable).parent / "nextwatch"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NEXTWATCH_INSTANCE_PATH": tmp}
        env.pop("NEXTWATCH_PROFILE_STORE", None)
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", "0", "--model", str(args.model)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            url = None
            for line in proc.stdout:
                m = re.search(r"serving on (\S+)", line)
                if m:
                    url = m.group(1)
                    break
            if url is None:
                raise SystemExit("the server did not start")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url)
                for i in (int(x) for x in args.tick.split(",")):
                    page.locator("li.card").nth(i).locator("label").click()
                page.locator("button[value='submit']").click()
                page.wait_for_url(url)
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
