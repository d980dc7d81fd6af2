"""The environment is the lock: `requirements.lock` satisfies every requirement in `settings.ini`, and the running
environment has every locked package at its locked version (`make env` installs it from the lock, then
`requirements-nodeps.txt` without dependencies). A drift in either direction, a settings.ini edit without `make lock`
or an environment made some other way, fails here instead of silently moving the committed tables. `pip check` finds
nothing but the departures that requirements-nodeps.txt declares."""
import configparser
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def locked_pins(path: Path = ROOT / "requirements.lock") -> dict:
    "{canonical name: version} of every `name==version` line of a pip-compile lock."
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        if m: pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def nodeps_departures(path: Path = ROOT / "requirements-nodeps.txt") -> set:
    "The `pip check` lines that requirements-nodeps.txt declares (its `# pip check: ...` comments)."
    return {m.group(1) for m in re.finditer(r"^# pip check: (.+)$", path.read_text(), re.M)}


def settings_requirements(path: Path = ROOT / "settings.ini") -> list:
    "Every requirement of settings.ini (`requirements` and `dev_requirements`), parsed."
    cfg = configparser.ConfigParser()
    cfg.read(path)
    words = cfg["DEFAULT"]["requirements"].split() + cfg["DEFAULT"]["dev_requirements"].split()
    return [Requirement(w) for w in words]


def test_lock_parses_and_holds_the_core():
    pins = locked_pins()
    assert len(pins) > 100, f"requirements.lock has only {len(pins)} pins"
    for name in ("torch", "torchvision", "numpy", "dvc", "pip", "setuptools"):
        assert name in pins, f"requirements.lock does not pin {name}"


def test_lock_satisfies_settings():
    pins = locked_pins()
    unmet = []
    for req in settings_requirements():
        version = pins.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            unmet.append(f"{req} (locked: {version})")
    assert not unmet, f"settings.ini asks for what requirements.lock does not give; run `make lock`: {unmet}"


def test_environment_is_the_lock():
    pins = {**locked_pins(), **locked_pins(ROOT / "requirements-nodeps.txt")}
    drift = []
    for name, version in sorted(pins.items()):
        try: installed = metadata.version(name)
        except metadata.PackageNotFoundError: installed = None
        if installed != version: drift.append(f"{name}: locked {version}, installed {installed}")
    assert not drift, f"the environment is not requirements.lock (`make env` installs it): {drift}"


def test_pip_check_finds_only_the_declared_departures():
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True).stdout.splitlines()
    assert nodeps_departures(), "requirements-nodeps.txt declares no departure: then it needs none of this machinery"
    extra = [line for line in out if line.strip() and line not in nodeps_departures()]
    assert not extra, f"pip check finds more than requirements-nodeps.txt declares: {extra}"
