"""The paper profile's dry run (lzu.dryrun, nbs/94_dryrun.ipynb): every stage of profiles/paper.yaml with one optimizer
step per training run and every other setting kept, on stand-in data in the real layouts and sizes and stand-in
weights under the real file names. Slow: LZU_SLOW_TESTS=1 runs it (README, "The paper profile's dry run"); it prints
the per-stage table of wall time and peak memory, and writes it to $LZU_DRY_RUN_TABLE when that is set."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lzu.dryrun import prepare_dry_run, run_dry_run, stage_table, write_stand_in_data, write_stand_in_weights
from lzu.pipeline import markdown_table

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(os.environ.get("LZU_SLOW_TESTS") != "1",
                                reason="slow (the paper profile's dry run, 1 h 25 min on 2 cores, 15.4 GB at its peak): LZU_SLOW_TESTS=1 runs it")


def test_paper_profile_runs_end_to_end_on_stand_ins(tmp_path):
    data = write_stand_in_data(tmp_path / "data")
    assert not list((data / "SR-RAW").rglob("meta.json")) and list((data / "SR-RAW").rglob("*.ARW"))
    write_stand_in_weights(tmp_path / "torch")
    ws = prepare_dry_run(tmp_path / "ws", data, steps=1, root=ROOT)
    results = run_dry_run(ws, tmp_path / "torch")
    table = stage_table(results)
    text = markdown_table(table, floatfmt=[".0f", ".0f"]) + f"\n\nIn all: {table['wall s'].sum() / 60:.1f} min; largest process {table['peak MB'].max() / 1024:.1f} GB.\n"
    print("\n" + text)
    if os.environ.get("LZU_DRY_RUN_TABLE"): Path(os.environ["LZU_DRY_RUN_TABLE"]).write_text(text)

    # every stage ran and every declared output is there: DVC has nothing left to do
    status = subprocess.run([str(Path(sys.executable).parent / "dvc"), "status", "dvc.yaml"], cwd=ws, capture_output=True, text=True)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout + status.stderr
    # no synthetic data generated: no stage of the profile reads it
    for name in ("synthetic_srraw", "synthetic_scenes"):
        manifest = json.loads((results / "metrics" / f"{name}_manifest.json").read_text())
        assert manifest["n_files"] == 0 and "not_generated" in manifest, manifest
    # real-data paths: SR-Raw without meta.json is measured against ECC, not a truth
    assert json.loads((results / "metrics" / "zoomlearn_misalignment.json").read_text())["data_kind"] == "real"
    # the stand-in weights are named as stand-ins wherever a table reports weights
    for table_file in ("lzu_table1.md", "lzu_table3.md", "zoomlearn_table1.md"):
        assert "STAND-IN" in (results / "tables" / table_file).read_text(), table_file
