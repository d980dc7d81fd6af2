"""Every notebook in nbs/ runs as one pytest test, under nbdev's execution rules.

nbdev's rules: notebooks are found by `nbglob` from `nbs_path` (names starting with `_` or `.` are skipped, and
so is a folder holding a `.notest` file); cells flagged with a `tst_flags` flag (e.g. `#| slow`) are skipped,
as are `#| eval: false` cells; a notebook whose front matter says `skip_exec: true` is skipped. The experiment
notebooks in nbs/experiments/ are parameterised runs of the pipeline and are exercised by test_pipeline.py.
"""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import _keep_file, test_nb as run_nb

ROOT = Path(__file__).resolve().parent.parent
CFG = get_config(path=ROOT)
NOTEBOOKS = sorted(f for f in nbglob(CFG.nbs_path, as_path=True) if _keep_file(f, ".notest"))


def test_notebooks_found():
    "An empty notebook list is a failure, not a silent pass."
    assert NOTEBOOKS, f"no notebooks found in {CFG.nbs_path}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[f.name for f in NOTEBOOKS])
def test_notebook(notebook: Path):
    flags = os.environ.get("LZU_TEST_FLAGS", "").split()   # e.g. LZU_TEST_FLAGS=slow runs the slow cells too
    ok, _ = run_nb(notebook, skip_flags=[f for f in CFG.tst_flags.split() if f not in flags],
                    force_flags=flags, basepath=CFG.config_path, showerr=True)
    assert ok, f"{notebook.name} failed (the traceback is above)"
