"`python -m lzu.bench cobi` at a tiny size: the JSON's keys, and dense and blocked CoBi agree."
import json
import subprocess
import sys

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_cobi_tiny(tmp_path):
    js, md = tmp_path / "cobi.json", tmp_path / "cobi.md"
    r = subprocess.run([sys.executable, "-m", "lzu.bench", "cobi", "--sizes", "256", "--channels", "8",
                        "--block-size", "64", "--repeats", "2", "--full-size", "16", "--full-max-positions", "64",
                        "--json", str(js), "--table", str(md)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.loads(js.read_text())
    assert res == json.loads(r.stdout)
    for k in ("benchmark", "machine", "sizes", "channels", "block_size", "entries", "comparisons", "full", "total_s"):
        assert k in res, k
    assert res["benchmark"] == "cobi" and res["sizes"] == [256] and res["channels"] == 8
    for k in ("processor", "cores", "threads", "torch", "device", "date"):
        assert k in res["machine"], k
    assert [(e["positions"], e["mode"]) for e in res["entries"]] == [(256, "dense"), (256, "blocked")]
    for e in res["entries"]:
        assert e["run"], e
        for k in ("loss", "time_s", "times_s", "peak_mb", "memory_method", "hw"):
            assert k in e, k
        assert e["hw"] == [16, 16] and len(e["times_s"]) == 2 and e["peak_mb"] >= 0
    dense, blocked = res["entries"]
    assert abs(dense["loss"] - blocked["loss"]) <= 1e-5 * max(1.0, abs(dense["loss"]))
    (c,) = res["comparisons"]
    assert c["positions"] == 256 and c["loss_abs_diff"] <= 1e-5 * max(1.0, abs(dense["loss"]))
    assert c["mem_ratio"] is None or c["mem_ratio"] >= 0
    assert c["time_ratio"] > 0
    assert res["full"]["run"] and res["full"]["random_vgg"] and res["full"]["loss"] > 0, res["full"]
    assert md.read_text().startswith("# CoBi benchmark")
