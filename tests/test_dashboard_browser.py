"""The live page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
post normal rows, then anomalous rows, and see the anomalies and their culprit features appear
without reloading the page."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest

from anomalib_ae.serve import create_app

sys.path.insert(0, str(Path(__file__).parent))
from serve_server import anomalous_rows, normal_rows, running, tabular_model  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "dashboard.png"


def _chromium() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if not found:
        missing.append(f"{CHROMIUM} (Debian package 'chromium')")
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def test_live_page_shows_new_anomalies_and_culprits(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    exe = _chromium()
    path = tabular_model(tmp_path / "cluster-hosts.pt")
    with running(create_app(path)) as srv, sync_playwright() as p:
        external = []
        browser = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda req: None if req.url.startswith(srv.url) else external.append(req.url))
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(srv.url + "/")
            expect(page.locator("#conn")).to_have_text("● live", timeout=15_000)
            expect(page.locator("#anomalies tbody")).to_contain_text("no anomalies yet")

            # normal traffic from six hosts (the 1 % threshold may flag a rare normal row)
            hosts = [f"node-{k:02d}" for k in range(1, 7)]
            n_false = 0
            for k, h in enumerate(hosts):
                r = httpx.post(srv.url + "/score", json={"rows": normal_rows(40, seed=10 + k).to_dict("records"),
                                                         "entity": h})
                n_false += r.json()["n_anomalies"]
            assert n_false <= 5
            expect(page.locator(".entity")).to_have_count(6, timeout=10_000)
            expect(page.locator("#k-items")).to_have_text("240", timeout=10_000)
            expect(page.locator(".anomaly-row")).to_have_count(n_false)

            # then node-03 overheats and node-05's disk goes wild
            for h, culprit in (("node-03", "temp"), ("node-05", "disk_io")):
                rows = normal_rows(10, seed=30).to_dict("records") + anomalous_rows(2, culprit, seed=31).to_dict("records")
                recs = httpx.post(srv.url + "/score", json={"rows": rows, "entity": h}).json()["records"]
                assert [x["is_anomaly"] for x in recs[10:]] == [True] * 2
                n_false += sum(1 for x in recs[:10] if x["is_anomaly"])
            rows = page.locator(".anomaly-row")
            expect(rows).to_have_count(n_false + 4, timeout=10_000)
            for i, (h, culprit) in enumerate([("node-05", "disk_io")] * 2 + [("node-03", "temp")] * 2):
                expect(rows.nth(i)).to_contain_text(h)
                expect(rows.nth(i).locator(".feat").first).to_contain_text(culprit)
            for h in ("node-03", "node-05"):  # their latest rows were flagged
                expect(page.locator(f'.entity.anomaly[data-entity="{h}"]')).to_have_count(1)
        except AssertionError:
            page.screenshot(path=str(tmp_path / "failure.png"))
            browser.close()
            raise
        # the chart shows the anomalies as markers above the threshold: read the drawn canvas
        red = page.evaluate("""() => { const c = document.getElementById('chart'); const g = c.getContext('2d');
            const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i+1] < 90 && d[i+2] < 90) n++; return n; }""")
        assert red > 50
        expect(page.locator("#k-anoms")).to_have_text(str(n_false + 4))
        expect(page.locator("#k-drift")).not_to_have_text("")
        # the docs' screenshot is refreshed on request only: a test run leaves tracked files alone
        shot = SCREENSHOT if os.environ.get("ANOMALIB_AE_UPDATE_SCREENSHOTS") else tmp_path / "dashboard.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        browser.close()
        assert not errors, errors
        assert not external, external  # self-contained: no CDN, no other host
