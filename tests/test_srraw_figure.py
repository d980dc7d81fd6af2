"""The SR-Raw figure notebook (nbs/experiments/srraw_figure.ipynb) on real-like SR-Raw: sequences without meta.json.

tests/test_pipeline.py runs the notebook on the synthetic SR-Raw (with the generator's meta.json, the truth); real SR-Raw
(the paper profile's data/SR-RAW: .ARW + JPG, no meta.json) takes the notebook's other branch, which estimates the
misalignment relative to ECC. Here: a tiny synthetic SR-Raw (the smoke profile's sensor size, two sequences) with every
meta.json and the generator's synthetic_srraw.json removed, run through the notebook with papermill (~7 s on 2 cores).
"""
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "nbs" / "experiments" / "srraw_figure.ipynb"


def test_srraw_figure_without_meta(tmp_path):
    from lzu.pipeline import import_papermill
    from lzu.raw.synthetic import generate_srraw
    data = generate_srraw(tmp_path / "srraw", n_sequences=2, sensor_hw=(192, 288), seed=0, progress=False)
    for f in [*data.glob("*/meta.json"), data / "synthetic_srraw.json"]: f.unlink()   # what real SR-Raw lacks
    res = tmp_path / "results"
    import_papermill().execute_notebook(
        str(NOTEBOOK), str(tmp_path / "out.ipynb"), cwd=str(ROOT), kernel_name="python3", progress_bar=False,
        parameters=dict(profile="test", results_dir=str(res), srraw_root=str(data), cache_dir=str(tmp_path / "cache")))
    m = json.loads((res / "metrics" / "zoomlearn_misalignment.json").read_text())
    assert m["data_kind"] == "real" and m["generator"] is None and m["seed"] is None
    assert "REAL SR-Raw" in m["data"] and "2 sequences" in m["data"] and "relative to ECC" in m["definition"]
    # the estimate relative to ECC: FOV-only numbers only (the ECC ones would be 0 by construction)
    assert set(m["summary"]["4X"]["mean"]) == {"fov_mean_px", "fov_max_px", "fov_mean_8mp", "fov_max_8mp"}
    assert all(math.isfinite(v) and v >= 0 for v in m["summary"]["4X"]["mean"].values())
    assert any(math.isfinite(p["fov_mean_px"] or math.nan) for p in m["pairs"])
    assert set(m["figure"]["b1"]["views"]) == {"FOV matching only", "after ECC"}   # no truth view
    assert m["figure"]["b2"]["frames"] == ["00001", "00002"] and "lens_sigma_own_px" not in m["figure"]["b2"]
    assert set(m["figure"]["b3"]) == {"target (high-res)", "input, ECC"}
    assert (res / "figures" / "zoomlearn_fig2_sequence_misalignment.png").stat().st_size > 0
    assert "ESTIMATED relative to ECC" in (res / "tables" / "zoomlearn_misalignment.md").read_text()
