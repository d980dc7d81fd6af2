"""The DVC pipeline, end to end, at the smoke profile: `make repro`'s runner (`python -m lzu.pipeline repro`: `dvc repro`
with independent stages side by side) in the profile's own workspace; the runner itself on a toy repository.

The workspace holds what git would clone (tracked and untracked-but-not-ignored files) less the default's results and
lock, with params.yaml merged with profiles/smoke.yaml (what `make repro PROFILE=smoke` runs); every stage must run and
write its declared outputs. The committed results are not touched. Also: dvc.yaml's code dependencies cover the code
each stage runs.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    "Run `dvc ARGS` in `repo`, with this environment's bin/ first on PATH (stages call `python`)."
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "dvc"), *args], cwd=repo, env=env, capture_output=True, text=True)


def _repro(repo: Path, *args: str) -> subprocess.CompletedProcess:
    "Run `python -m lzu.pipeline repro ARGS` in `repo` (what `make repro` runs: independent stages side by side, one thread each)."
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "lzu.pipeline", "repro", *args], cwd=repo, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory) -> Path:
    "The smoke profile's workspace (`prepare_profile`: the repository as git would clone it, params.yaml merged with profiles/smoke.yaml), reproduced end to end."
    from lzu.pipeline import prepare_profile
    dst = prepare_profile("smoke", tmp_path_factory.mktemp("repo") / "smoke", root=ROOT)
    t0 = time.perf_counter()
    r = _repro(dst, "--jobs", "2")
    assert r.returncode == 0, f"repro failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    print(f"smoke profile: repro (2 at a time) took {time.perf_counter() - t0:.0f} s")   # pytest -s shows it
    return dst


_TOY_STAGE = """import sys, time
name, *reads = sys.argv[1:]
if name == 'broken': print('this stage is broken'); sys.exit(3)
time.sleep(0.5)
open(name + '.txt', 'w').write(''.join(open(r + '.txt').read() for r in reads) or name)
"""


def test_repro_on_a_toy_repository(tmp_path):
    "Two independent stages and one reading both: all run and DVC records them; a second run has nothing to do; a failing stage is named with the end of its log, and what reads it does not start."
    (tmp_path / "stage.py").write_text(_TOY_STAGE)
    (tmp_path / "params.yaml").write_text("profile: toy\n")
    stages = {"a": {"cmd": "python stage.py a", "deps": ["stage.py"], "outs": ["a.txt"]},
              "b": {"cmd": "python stage.py b", "deps": ["stage.py"], "outs": ["b.txt"]},
              "c": {"cmd": "python stage.py c a b", "deps": ["a.txt", "b.txt"], "outs": ["c.txt"]}}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    assert _dvc(tmp_path, "init", "--no-scm", "-q").returncode == 0
    r = _repro(tmp_path, "--jobs", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "c.txt").read_text() == "ab"
    assert _dvc(tmp_path, "status", "--json").stdout.strip() == "{}"
    assert "every stage is up to date" in _repro(tmp_path, "--jobs", "2").stdout
    stages["b"]["cmd"] = "python stage.py broken"
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    r = _repro(tmp_path, "--jobs", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "stage b failed (exit status" in r.stdout and "this stage is broken" in r.stdout, r.stdout
    assert "not run after the failure: c" in r.stdout, r.stdout


def _declared_outputs(repo: Path) -> list:
    "Every output path of dvc.yaml, foreach stages expanded with the repo's params.yaml."
    from lzu.pipeline import _expand_foreach
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    paths = []
    for _, stage in [e for n, s in stages.items() for e in _expand_foreach(n, s, params)]:
        for key in ("outs", "metrics", "plots"):
            for o in stage.get(key, []):
                paths.append(next(iter(o)) if isinstance(o, dict) else o)
    return paths


def test_every_declared_output_is_written(smoke_repo):
    missing = [p for p in _declared_outputs(smoke_repo) if not (smoke_repo / p).exists() or (smoke_repo / p).stat().st_size == 0]
    assert not missing, f"stages did not write {missing}"


SMOKE_REFERENCE = ROOT / "tests" / "smoke_reference.json"


def test_smoke_run_reproduces_the_committed_reference(smoke_repo):
    """The smoke run repeats the committed reference: generated data byte for byte, every trained number within the
    tolerance measured between two processor classes (lzu.pipeline.CROSS_PROCESSOR_TOLERANCE, numerics pinned by
    PINNED_NUMERICS; one thread per stage, STAGE_THREADS; README "Reproducing the committed numbers"). A drift of the environment or the
    code fails here instead of silently moving the tables. After an intended change:
    `make repro PROFILE=smoke && python -m lzu.pipeline reference tests/smoke_reference.json --results runs/smoke/results`."""
    from lzu.pipeline import CROSS_PROCESSOR_TOLERANCE, format_reproduction_diff, reproducible_results, reproduction_diff
    d = reproduction_diff(json.loads(SMOKE_REFERENCE.read_text()), reproducible_results(smoke_repo / "results"), **CROSS_PROCESSOR_TOLERANCE)
    assert not (d["data"] or d["numbers"] or d["missing"] or d["extra"]), format_reproduction_diff(d)
    assert d["compared"] > 1000 and len(json.loads(SMOKE_REFERENCE.read_text())["data"]) == 3


def test_tables_name_their_profile_and_data(smoke_repo):
    tables = [*(smoke_repo / "results" / "tables").glob("lzu_*.md"), *(smoke_repo / "results" / "tables").glob("zoomlearn_*.md")]
    assert len(tables) >= 5, tables
    for md in tables:
        text = md.read_text()
        assert "smoke" in text and "SYNTHETIC" in text.upper(), f"{md.name} does not name the profile and the data"


def test_foreach_items_each_write_their_results(smoke_repo):
    "Every sr_models entry of the smoke profile trained, scored, and reached the Zoom-to-Learn tables."
    items = yaml.safe_load((smoke_repo / "params.yaml").read_text())["sr_models"]
    for item in items:
        r = json.loads((smoke_repo / "results" / "sr" / f"{item}.json").read_text())
        assert r["item"] == item and r["summary"]["pairs"] > 0 and r["profile"] == "smoke"
    t1 = (smoke_repo / "results" / "tables" / "zoomlearn_table1.csv").read_text()
    assert "Bicubic" in t1 and all({"l1": "L1", "cx": "CX", "cobi": "CoBi"}[spec["loss"]] in t1 for spec in items.values())


def test_perception_items_each_write_their_results(smoke_repo):
    "Every det_models and seg_models entry trained and scored on the generated scenes, and reached the LZU tables."
    params = yaml.safe_load((smoke_repo / "params.yaml").read_text())
    for item, spec in params["det_models"].items():
        r = json.loads((smoke_repo / "results" / "perception" / "det" / f"{item}.json").read_text())
        assert r["item"] == item and r["profile"] == "smoke" and r["synthetic"] and r["val"]["frames"] > 0
        assert r["experiment"]["method"] == spec["method"] and r["train_info"]["steps"] == spec["steps"]
        assert set(r["val"]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl"}
        if spec["method"] != "adaptive":   # Table 2: scored from every source scale
            assert sorted(map(float, r["from_scales"])) == sorted(params["det_train"]["source_scales"])
        if spec["method"] == "fixed":      # the saliency the Table 6 search chose on held-out training sequences
            best = json.loads((smoke_repo / "results" / "perception" / "det_search.json").read_text())["best"]
            assert r["saliency_from_search"]["amplitude"] == best["amplitude"] and r["experiment"]["fwhm"] == best["fwhm"]
    for item, spec in params["seg_models"].items():
        r = json.loads((smoke_repo / "results" / "perception" / "seg" / f"{item}.json").read_text())
        assert r["item"] == item and r["profile"] == "smoke" and 0 <= r["val"]["mIoU"] <= 1
        fl = r["val"]["flops"]   # the network, and what LZU's zoom + unzoom would add to it (a small share)
        assert fl["network"] > 0 and 0 < fl["extra"] < 0.05 * fl["network"] and r["val"]["method"] == spec["method"]
        assert fl["total"] == fl["network"] + (fl["extra"] if spec["method"] == "fixed" else fl["uniform_resize"])
    t1 = (smoke_repo / "results" / "tables" / "lzu_table1.csv").read_text()
    assert "Uniform" in t1 and "LZU, fixed" in t1 and "LZU, adaptive" in t1
    t3 = (smoke_repo / "results" / "tables" / "lzu_table3.csv").read_text()
    assert "ours" in t3 and "paper" in t3
    pre = json.loads((smoke_repo / "results" / "perception" / "det_pretrain.json").read_text())
    assert pre["train_info"]["steps"] == params["det_pretrain"]["steps"] and len(pre["weights_sha256"]) == 64


def test_mono3d_items_each_write_their_results(smoke_repo):
    "Every det3d_models entry trained on the generated nuScenes stand-in, was scored by the devkit from every source scale, and reached Table 5."
    params = yaml.safe_load((smoke_repo / "params.yaml").read_text())
    for item, spec in params["det3d_models"].items():
        r = json.loads((smoke_repo / "results" / "perception" / "det3d" / f"{item}.json").read_text())
        assert r["item"] == item and r["profile"] == "smoke" and r["synthetic"] and r["train_steps"] == spec["steps"]
        assert r["experiment"]["method"] == spec["method"] and set(r["val"]) >= {"NDS", "mAP", "mATE", "mASE", "mAOE", "mAVE", "mAAE"}
        assert sorted(map(float, r["from_scales"])) == sorted(params["det3d_train"]["source_scales"])
        assert (r["saliency"] is not None) == (spec["method"] == "fixed")
    t5 = (smoke_repo / "results" / "tables" / "lzu_table5.csv").read_text()
    assert "Uniform" in t5 and "LZU, fixed" in t5 and "paper" in t5


def test_claims_carry_intervals(smoke_repo):
    "perception_tables and sr_tables turn the papers' claims into effects with intervals; the effects stage gathers them."
    lzu = json.loads((smoke_repo / "results" / "metrics" / "lzu_effects.json").read_text())
    claims = {e["claim"] for e in lzu["effects"]}
    assert any("LZU, fixed beats uniform at 0.5x in AP" == c for c in claims) and any("in mIoU" in c for c in claims), claims
    for e in lzu["effects"]:
        assert e["ci95"][0] <= e["ci95"][1] and e["holds"] == (e["ci95"][0] > 0) and "paired bootstrap" in e["units"]
    lzu3d = json.loads((smoke_repo / "results" / "metrics" / "lzu3d_effects.json").read_text())
    claims3d = {e["claim"] for e in lzu3d["effects"]}
    assert claims3d == {"LZU, fixed beats uniform at 0.5x in NDS (3D)"} and "scenes (paired bootstrap" in lzu3d["effects"][0]["units"], claims3d
    every = json.loads((smoke_repo / "results" / "metrics" / "effects.json").read_text())
    assert {e["claim"] for e in every if e["source"] == "Learning to Zoom and Unzoom"} == claims | claims3d


def test_a3_metrics_are_finite(smoke_repo):
    a3 = json.loads((smoke_repo / "results" / "metrics" / "lzu_a3.json").read_text())
    text = json.dumps(a3)
    assert "NaN" not in text and "Infinity" not in text


def test_second_repro_does_nothing(smoke_repo):
    r = _dvc(smoke_repo, "status", "dvc.yaml")
    assert r.returncode == 0 and "changed" not in r.stdout, r.stdout


def _changed_stages(repo: Path, **edits) -> set:
    "The stages `dvc status` finds out of date after setting params.yaml keys (`section__key=value`); params.yaml is restored."
    p, text = repo / "params.yaml", (repo / "params.yaml").read_text()
    params = yaml.safe_load(text)
    for path, value in edits.items():
        *parents, last = path.split("__")
        node = params
        for k in parents: node = node[k]
        node[last] = value
    try:
        p.write_text(yaml.safe_dump(params, sort_keys=False))
        r = _dvc(repo, "status", "--json", "dvc.yaml")
        assert r.returncode == 0, r.stderr
        return set(json.loads(r.stdout or "{}"))
    finally:
        p.write_text(text)


def test_one_parameter_reruns_only_what_reads_it(smoke_repo):
    "A stage's own parameter makes only that stage out of date; a foreach item's makes only that item (and the stages listing the items)."
    assert _changed_stages(smoke_repo) == set()
    assert _changed_stages(smoke_repo, bench_zoom__repeats=3) == {"bench_zoom"}
    assert _changed_stages(smoke_repo, det_models__fixed_050x__steps=4) == {"det_train@fixed_050x", "perception_tables", "results_index"}
    assert _changed_stages(smoke_repo, sr_train__lr=2.0e-3) == {f"sr_train@{k}" for k in yaml.safe_load((smoke_repo / "params.yaml").read_text())["sr_models"]}


def test_results_index_is_current():
    "results/README.md lists exactly the outputs dvc.yaml describes (rerun `dvc repro results_index -f` if not)."
    from lzu.pipeline import results_index
    assert (ROOT / "results" / "README.md").read_text() == results_index(ROOT / "dvc.yaml", ROOT / "params.yaml"), \
        "results/README.md is stale: run `dvc repro -f results_index`"


# the library module each stage without an experiment notebook runs (the notebook stages: what their notebook imports)
STAGE_MODULES = {"bench_zoom": {"lzu.bench"}, "bench_cobi": {"lzu.bench"}, "synthetic_srraw": {"lzu.raw.synthetic"},
                 "synthetic_scenes": {"lzu.perception.synthetic"}, "synthetic_nuscenes": {"lzu.perception.nuscenes_synthetic"},
                 "results_index": set(), "effects": set(), "effects_across_draws": {"lzu.seeds"}}


def _notebook_imports(path: Path) -> set:
    "The `lzu` modules a notebook imports."
    import ast
    mods = set()
    for c in json.loads(path.read_text())["cells"]:
        if c["cell_type"] != "code": continue
        src = "".join(line for line in c["source"] if not line.lstrip().startswith(("%", "!")))
        for n in ast.walk(ast.parse(src)):
            if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "lzu": mods.add(n.module)
            elif isinstance(n, ast.Import): mods |= {a.name for a in n.names if a.name.split(".")[0] == "lzu"}
    return mods


BY_MODULE = ("perception",)  # subpackages whose stages depend on each module's file (2D and 3D stages share the folder), not on the folder


def _code_paths(modules: set) -> set:
    "dvc.yaml dependency paths that hold these modules: a subpackage's folder (its module's file for BY_MODULE), or a top-level module's file."
    out = set()
    for m in modules:
        parts = m.split(".")
        if len(parts) == 1: out.add("lzu/__init__.py")
        elif parts[1] in BY_MODULE: out.add("/".join(["lzu", *parts[1:]]) + ".py" if len(parts) > 2 else f"lzu/{parts[1]}/__init__.py")
        else: out.add(f"lzu/{parts[1]}" if len(parts) > 2 or (ROOT / "lzu" / parts[1]).is_dir() else f"lzu/{parts[1]}.py")
    return out


def test_stage_dependencies_cover_the_code_they_run():
    "Each stage depends on every lzu module its code imports (directly or not), by subpackage folder or module file: editing any of them reruns it."
    from lzu.pipeline import NOTEBOOK_STAGES
    from lzu.train import lzu_modules
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(NOTEBOOK_STAGES) | set(STAGE_MODULES) | {"bench_zoom", "bench_cobi"}, sorted(stages)
    for name, st in stages.items():
        st = st.get("do", st)
        mods = set(STAGE_MODULES.get(name, set()))
        if name in NOTEBOOK_STAGES:
            assert NOTEBOOK_STAGES[name][0] in st["deps"], f"{name} does not depend on its notebook"
            mods |= _notebook_imports(ROOT / NOTEBOOK_STAGES[name][0])
        needed = _code_paths({d for m in mods - {"lzu.pipeline"} for d in lzu_modules(m)}) | {"lzu/pipeline.py", "lzu/files.py"}
        missing = needed - set(st["deps"])
        assert not missing, f"dvc.yaml stage {name} lacks the code dependencies {sorted(missing)}"
        assert not [d for d in st["deps"] if d.startswith("lzu/") and d not in needed], f"{name}: deps on code it does not run"


def test_stages_depend_on_the_data_they_read():
    "Each notebook stage depends on `${data_deps.<set>}` for exactly the data sets it reads: the manifest here, the real folders in a real profile."
    from lzu.pipeline import DATA_SETS, NOTEBOOK_STAGES, profile_params
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, (_, sets) in NOTEBOOK_STAGES.items():
        deps = stages[name].get("do", stages[name])["deps"]
        got = sorted(d[len("${data_deps."):-1] for d in deps if d.startswith("${data_deps."))
        assert got == sorted(sets), f"dvc.yaml stage {name} depends on data {got}, reads {sorted(sets)}"
        assert not [d for d in deps if "manifest" in d], f"{name}: a literal manifest dependency (use ${{data_deps.<set>}})"
    paper = profile_params("paper", ROOT)["data_deps"]
    assert paper == {"srraw": "data/SR-RAW", "argoverse_hd": "data/argoverse-hd", "cityscapes": "data/cityscapes", "nuscenes": "data/nuscenes"}, paper
    assert set(paper) == set(DATA_SETS)
