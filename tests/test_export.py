"lzu/ is exactly what the notebooks export, and the notebooks are clean (nbdev_clean changes nothing)."
import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _copy_project(dst: Path):
    for name in ("settings.ini", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dst / name)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    shutil.copytree(ROOT / "nbs", dst / "nbs", ignore=ignore)
    shutil.copytree(ROOT / "lzu", dst / "lzu", ignore=ignore)


def _tree_diff(a: Path, b: Path) -> list:
    "Relative paths that differ between two trees (missing on either side or with different bytes)."
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [str(Path(cmp.left).relative_to(a) / f) for f in cmp.left_only + cmp.right_only + cmp.diff_files]
    for sub in cmp.subdirs.values():
        out += [str(Path(sub.left).relative_to(a) / d) for d in sub.left_only + sub.right_only + sub.diff_files]
    # dircmp compares shallowly by stat; recheck the same-looking files byte for byte
    for f in a.rglob("*.py"):
        g = b / f.relative_to(a)
        if g.exists() and f.read_bytes() != g.read_bytes(): out.append(str(f.relative_to(a)))
    return sorted(set(out))


def test_export_leaves_lzu_unchanged(tmp_path):
    _copy_project(tmp_path)
    subprocess.run([str(BIN / "nbdev_export")], cwd=tmp_path, check=True, capture_output=True)
    diff = _tree_diff(ROOT / "lzu", tmp_path / "lzu")
    assert not diff, f"nbdev_export changes {diff}: run `nbdev_export` and commit lzu/ (never edit lzu/ by hand)"


def test_notebooks_are_clean(tmp_path):
    _copy_project(tmp_path)
    subprocess.run([str(BIN / "nbdev_clean")], cwd=tmp_path, check=True, capture_output=True)
    changed = [str(p.relative_to(tmp_path)) for p in (tmp_path / "nbs").rglob("*.ipynb")
               if p.read_bytes() != (ROOT / p.relative_to(tmp_path)).read_bytes()]
    assert not changed, f"nbdev_clean changes {changed}: run `nbdev_clean` and commit"
