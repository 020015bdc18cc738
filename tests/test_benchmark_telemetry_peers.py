"""benchmarks/telemetry_peers.py and telemetry_select.py: tables, cache, injection (no shared data needed),
and a --quick run on the real SMD files (benchmark marker; skipped without ../shared)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import telemetry_peers as tp  # noqa: E402
import telemetry_select as ts  # noqa: E402


def _rows():
    out = []
    for mc, a in (("machine-1-1", 0.9), ("machine-1-2", 0.7)):
        out.append(dict(machine=mc, method="ours:winae@30", family="ours", auroc=a, best_f1=0.5, f1_pa=0.8,
                        range_f1=0.4, fit_s=1.0, score_s=1.0))
        out.append(dict(machine=mc, method="pyod:pyod.iforest@30", family="pyod", auroc=a - 0.1, best_f1=0.6,
                        f1_pa=0.9, range_f1=0.3, fit_s=1.0, score_s=1.0))
    out.append(dict(machine="machine-1-1", method="deepod:USAD", family="deepod", auroc=0.95, best_f1=0.2,
                    f1_pa=0.9, range_f1=0.1, fit_s=9.0, score_s=1.0))
    return out


def test_means_and_table_mark_best_ours_and_best_peer_and_partial_runs():
    rows = _rows()
    m = tp.means(rows)
    assert m["ours:winae@30"]["auroc"] == pytest.approx(0.8) and m["ours:winae@30"]["n"] == 2
    assert m["deepod:USAD"]["n"] == 1
    md = tp.markdown({"rows": rows, "machines": ["machine-1-1", "machine-1-2"], "command": "x", "loadavg": [0],
                      "not_run": [{"machine": "machine-1-2", "method": "deepod:USAD"}], "failures": []}, 1.0)
    assert "| ours:winae@30 | 2 | **0.8000** | **0.5000** |" in md  # the only one of ours: best of ours
    assert "| pyod:pyod.iforest@30 | 2 | _0.7000_ | _0.6000_ |" in md
    # a peer on one machine is not marked best; it is shown beside ours on that machine
    assert "| deepod:USAD | 1 | 0.9500 |" in md
    assert "| deepod:USAD vs ours:winae@30 | 1 | 0.9500 | 0.9000 |" in md
    assert "deepod:USAD on 1 machine(s)" in md


def test_cache_round_trip_and_cached_only(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(3.0), 1.5, 0.5

    key = tp.method_key("ours", "winae", {"window": 30})
    assert key != tp.method_key("ours", "winae", {"window": 10})
    with pytest.raises(tp.NotCached):
        tp.cached_scores(tmp_path, key, "m", {}, compute, cached_only=True)
    s, fit_s, _, hit = tp.cached_scores(tmp_path, key, "m", {}, compute)
    assert not hit and fit_s == 1.5
    s2, _, _, hit2 = tp.cached_scores(tmp_path, key, "m", {}, compute)
    assert hit2 and len(calls) == 1 and np.array_equal(s, s2)


def test_parse_methods_windows_and_unknown_names():
    plan = tp.parse_methods("ours:winae@30,pyod:pyod.knn,deepod:TimesNet", quick=False)
    assert [(f, n, w) for f, n, _, w in plan] == [("ours", "winae", 30), ("pyod", "pyod.knn", None),
                                                  ("deepod", "TimesNet", None)]
    with pytest.raises(SystemExit, match="unknown method"):
        tp.parse_methods("deepod:NoSuch", quick=False)


def test_headline_row_is_the_shipped_config_as_the_cli_builds_it():
    cm = tp.config_method("hpc_accuracy")
    assert cm["detector"] == "ae" and cm["window"] == 30 and cm["how"] == "mean"
    assert cm["params"]["epochs"] == 10 and cm["params"]["input_kind"] == "window"
    plan = tp.parse_methods(None, quick=False)
    assert plan[0][:2] == ("ours", "config:hpc_accuracy") and plan[0][3] == 30
    assert tp.parse_methods("config:hpc_accuracy", quick=False)[0][2] == cm
    with pytest.raises(SystemExit, match="no config"):
        tp.config_method("no_such_config")
    # a cache key never holds a colon (a folder name)
    assert ":" not in tp.method_key("ours", "config:hpc_accuracy", {"a": 1})


def test_levers_spec_parsing_and_max_aggregation():
    import telemetry_levers as tl

    assert tl.parse_spec("ae:epochs=30|hidden_dims=[256,64]@stride1") == ("ae", {"epochs": 30, "hidden_dims": [256, 64]}, 1)
    assert tl.parse_spec("deepsvdd") == ("deepsvdd", {}, None)
    idx = np.array([[0, 1], [1, 2]])
    np.testing.assert_array_equal(tl.to_rows(np.array([1.0, 3.0]), idx, 3, "max"), [1.0, 3.0, 3.0])
    np.testing.assert_array_equal(tl.to_rows(np.array([1.0, 3.0]), idx, 3, "mean"), [1.0, 2.0, 3.0])


def test_injected_anomalies_are_labelled_and_change_only_their_rows():
    z = np.random.default_rng(0).normal(size=(2000, 5))
    x, y = ts.inject(z, np.random.default_rng(1), 8)
    changed = np.any(x != z, axis=1)
    assert y.sum() > 0 and not changed[y == 0].any()
    segs = np.flatnonzero(np.diff(np.r_[0, y, 0])).reshape(-1, 2)
    assert 1 <= len(segs) <= 8 and ((segs[:, 1] - segs[:, 0]) >= 10).all()


SMD = Path(__file__).resolve().parents[2] / "shared" / "data" / "telemetry" / "smd"


@pytest.mark.benchmark
@pytest.mark.skipif(not SMD.is_dir(), reason="needs ../shared/data/telemetry/smd")
def test_quick_run_writes_tables(tmp_path):
    pytest.importorskip("deepod")
    tp.main(["--quick", "--methods", "ours:winae@30,pyod:pyod.iforest,deepod:USAD", "--cache", str(tmp_path / "c"),
             "--out", str(tmp_path)])
    md = (tmp_path / "telemetry_peers_quick.md").read_text()
    assert "ours:winae@30 | 2 |" in md and "deepod:USAD | 2 |" in md


def test_seeds_table_counts_a_seed_once_and_refuses_other_settings(tmp_path):
    import json

    import telemetry_seeds

    def run(seed, auroc_winae, methods=("ours:winae@30",), stride=10):
        rows = [dict(machine=mc, method=m, family=m.split(":")[0], auroc=auroc_winae + d, best_f1=0.5, f1_pa=0.8,
                     range_f1=0.4, fit_s=1.0, score_s=1.0)
                for m in methods for mc, d in (("machine-1-1", 0.05), ("machine-1-2", -0.05))]
        return {"rows": rows, "methods": list(methods),
                "settings": {"window": 30, "train_stride": stride, "epochs": 10, "seed": seed, "deepod": {}}}

    paths = []
    for i, r in enumerate([run(0, 0.9, ("ours:winae@30", "pyod:pyod.knn@30")), run(0, 0.9), run(1, 0.8), run(2, 0.7)]):
        paths.append(tmp_path / f"r{i}.json")
        paths[-1].write_text(json.dumps(r))
    out = tmp_path / "seeds"
    telemetry_seeds.main([*map(str, paths), "--out", str(out)])
    t = json.loads(out.with_suffix(".json").read_text())["table"]
    assert t["ours:winae@30"]["seeds"] == 3  # seed 0 is in two files, counted once
    assert t["ours:winae@30"]["auroc"] == pytest.approx(0.8) and t["ours:winae@30"]["auroc_sd"] == pytest.approx(np.std([0.9, 0.8, 0.7]))
    assert t["pyod:pyod.knn@30"]["seeds"] == 1
    assert "(deterministic)" in out.with_suffix(".md").read_text()
    other = tmp_path / "other.json"
    other.write_text(json.dumps(run(3, 0.9, stride=1)))
    with pytest.raises(SystemExit, match="differ in more than the seed"):
        telemetry_seeds.main([str(paths[0]), str(other), "--out", str(out)])
