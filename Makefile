# The two set-up commands of the README: `make repro` (the main job) and `make test` (the tests).
# Each makes the virtual environment .venv from settings.ini when it is missing or out of date.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# PROFILE=default (params.yaml, in the repository) or a file of profiles/ (run in its own workspace runs/<name>/)
PROFILE ?= default
RUN := $(if $(filter default,$(PROFILE)),.,runs/$(PROFILE))

.PHONY: repro rebuild workspace test env lock export hooks

# The environment is the lock: requirements.lock pins every package (pip-compile, from settings.ini's requirements and
# dev_requirements through setup.py); lzu itself is installed editable on top, and `pip check` proves it consistent.
$(STAMP): requirements.lock requirements-nodeps.txt settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.lock 2> >(grep -v "is neither a file nor a directory" >&2)
	$(BIN)/python -m pip install -q --no-deps -r requirements-nodeps.txt 2> >(grep -v "is neither a file nor a directory" >&2)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . 2> >(grep -v "is neither a file nor a directory" >&2)
	@# pip check, less the departures that requirements-nodeps.txt declares (and tests)
	@$(BIN)/python -m pip check | grep -vxF -f <(sed -n 's/^# pip check: //p' requirements-nodeps.txt) | { ! grep .; }
	$(BIN)/dvc config core.analytics false
	touch $(STAMP)

env: $(STAMP)

# Regenerate requirements.lock after editing settings.ini's requirements: pins that still satisfy them are kept and
# only what changed is resolved. `make lock LOCK_ARGS=--upgrade` re-resolves everything (then `make rebuild` and
# commit the results with it). pip-compile does not read pip's configuration, so pip's own constraints file on this
# machine, if it has one, is passed on.
PIP_CONSTRAINTS = $(shell $(PYTHON) -m pip config get global.constraint 2>/dev/null)
lock: $(STAMP)
	$(BIN)/pip-compile -q --extra dev --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  $(addprefix --constraint ,$(PIP_CONSTRAINTS)) $(LOCK_ARGS) --output-file requirements.lock setup.py \
	  2> >(grep -vE "is neither a file nor a directory|License|license|^\s*$$|\*\*\*|^!!" >&2)

# Both first run the preflight (lzu.preflight): a profile that needs real data, weights or a GPU this machine lacks
# stops with the whole list before any stage has run; the default passes silently.
PREFLIGHT := $(CURDIR)/$(BIN)/python -m lzu.preflight
# Independent stages run side by side (lzu.pipeline repro: `dvc repro --single-item` for each stage once the stages it
# reads are done), JOBS at a time (default: the usable cores; 1 on a profile that needs a GPU), each with its environment
# (lzu.pipeline.stage_environment). Every stage that computes results does so with one thread, so the numbers do not
# depend on JOBS or on the machine's core count; plain `dvc repro` gives the same, one at a time.
REPRO := PATH="$(CURDIR)/$(BIN):$$PATH" $(CURDIR)/$(BIN)/python -m lzu.pipeline repro $(if $(JOBS),--jobs $(JOBS))
repro: workspace
	cd $(RUN) && $(PREFLIGHT) && $(REPRO)

# everything from nothing: the generated data, caches and checkpoints (work/) deleted and every stage rerun
rebuild: workspace
	cd $(RUN) && $(PREFLIGHT) && rm -rf work && $(REPRO) --force

# a profile other than the default: its workspace (repository files + params.yaml merged with profiles/$(PROFILE).yaml)
workspace: $(STAMP)
	@test "$(PROFILE)" = default || $(BIN)/python -m lzu.pipeline profile $(PROFILE)

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

export: $(STAMP)
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean

hooks: $(STAMP)
	$(BIN)/nbdev_install_hooks   # notebooks: clean on save in Jupyter, merge conflicts resolved by nbdev_merge
