"""`anomalib-ae report`: one self-contained HTML page, opened in real headless Chromium."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _tables(tmp_path: Path):
    rng = np.random.default_rng(0)
    cols = [f"f{j}" for j in range(10)]
    pd.DataFrame(rng.normal(size=(300, 10)), columns=cols).to_csv(tmp_path / "train.csv", index=False)
    new = rng.normal(size=(40, 10))
    new[5, 7] += 9.0
    lab = np.zeros(40, int)
    lab[5] = 1
    lab[[11, 12]] = 1
    df = pd.DataFrame(new, columns=cols)
    df.to_csv(tmp_path / "new.csv", index=False)
    df.assign(label=lab).to_csv(tmp_path / "new_labelled.csv", index=False)


def _open_in_chromium(path: Path) -> dict:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed")
    url = path.resolve().as_uri()
    seen = {"console_errors": [], "requests": [], "page_errors": []}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.on("console", lambda m: seen["console_errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))
        page.on("request", lambda r: seen["requests"].append(r.url))
        page.goto(url, wait_until="load")
        seen["images"] = page.evaluate(
            "() => Array.from(document.images).map(i => ({w: i.naturalWidth, h: i.naturalHeight, ok: i.complete, alt: i.alt}))")
        seen["flagged"] = page.inner_text("#n-flagged")
        seen["title"] = page.title()
        seen["text"] = page.inner_text("body")
        browser.close()
    seen["url"] = url
    return seen


def test_report_tabular_opens_clean_in_chromium(tmp_path):
    import anomalib_ae
    from anomalib_ae.cli import cli

    _tables(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["fit", "-d", "pyod.knn", "-i", str(tmp_path / "train.csv"), "-m", str(tmp_path / "knn.pt")])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out" / "report.html"
    r = runner.invoke(cli, ["report", "-m", str(tmp_path / "knn.pt"), "-i", str(tmp_path / "new_labelled.csv"),
                            "-o", str(out), "--label-column", "label", "-k", "5"])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)  # nothing fetched from the network
    assert not list(out.parent.glob(".*.tmp"))  # atomic write left no temp file
    seen = _open_in_chromium(out)
    assert seen["console_errors"] == [] and seen["page_errors"] == []
    assert all(u == seen["url"] or u.startswith("data:") for u in seen["requests"]), seen["requests"]
    imgs = seen["images"]
    assert len(imgs) >= 1 + 1 + 5 + 1  # histogram, ROC/PR, one per top item, feature summary
    assert all(i["ok"] and i["w"] > 0 and i["h"] > 0 for i in imgs), imgs
    det = anomalib_ae.load(tmp_path / "knn.pt")
    X = pd.read_csv(tmp_path / "new.csv")
    assert int(seen["flagged"]) == int((det.score(X) > det.threshold_).sum())
    # the planted row is the top anomaly and its explanation names f7 first
    top = seen["text"].split("#1", 1)[1]
    assert "row 5" in top.split("\n")[0] and top.index("f7") < top.index("#2")


def test_report_telemetry_names_span_culprit(tmp_path):
    from anomalib_ae import datasets
    from anomalib_ae.pipeline import Pipeline
    from anomalib_ae.report import build_report, write_report

    d = datasets.load_smd_sample()
    fast = {"epochs": 3, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}
    pipe = Pipeline("ae", kind="telemetry", detector_params=fast,
                    adapter_params={"window": 8, "stride": 4, "metric_cols": d["metric_cols"]})
    pipe.fit(d["train"].iloc[:600])
    test = d["train"].iloc[600:800].copy()  # normal rows the model has not seen
    m3 = "m03" if "m03" in d["metric_cols"] else d["metric_cols"][2]
    test.iloc[100:106, test.columns.get_loc(m3)] += 20 * d["train"][m3].std() + 1.0
    rep = build_report(pipe, test, top_k=5)
    spans = [s for s in rep.spans if s.start <= 103 < s.end]
    assert spans and spans[0].culprits[0][0] == m3
    out = write_report(rep, tmp_path / "tele.html")
    seen = _open_in_chromium(out)
    assert seen["console_errors"] == [] and all(i["w"] > 0 for i in seen["images"])
    assert m3 in seen["text"]
