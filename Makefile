.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,dask]'
	touch $(STAMP)

install: $(STAMP)  ## make .venv and install wfrun with its dev tools

test: $(STAMP)  ## lint, typecheck, then every test (a private Docker Engine runs for the container tests)
	scripts/with-docker.sh $(MAKE) --no-print-directory checks

checks: $(STAMP) browser  ## lint, typecheck, then every test, with whatever engine DOCKER_HOST names
	$(VENV)/bin/ruff check wfrun tests benchmarks
	$(VENV)/bin/ruff format --check wfrun tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest

browser:  ## headless Chromium for the report's browser test (apt-get install where missing)
	@scripts/chromium.sh >/dev/null

slow: $(STAMP)  ## the slow fault seeds: the whole matrix in graph mode, more kill -9 seeds (CI runs them)
	scripts/with-docker.sh $(PY) -m pytest -m slow tests/faults

docker-up:  ## start the private Docker Engine and build the test image (prints DOCKER_HOST)
	@scripts/docker-engine.sh start
	@DOCKER_HOST=$$(scripts/docker-engine.sh env | cut -d= -f2-) scripts/test-images.sh

docker-down:  ## stop the private Docker Engine (only one this repo's scripts started)
	scripts/docker-engine.sh stop

demo-containers: $(STAMP)  ## run the container example (exploit, patch, verify in containers)
	scripts/with-docker.sh $(VENV)/bin/wfrun run workflows/exploit-and-patch-containers/workflow.yaml

fuzz-long: $(STAMP)  ## twenty times the fuzz cases, fresh randomness (~50,000 cases, ~6 min)
	$(PY) -m pytest -m slow tests/fuzz

demo: $(STAMP)  ## validate the examples, plan one, then run hello
	$(VENV)/bin/wfrun validate workflows/*.yaml workflows/*/workflow.yaml
	$(VENV)/bin/wfrun plan workflows/exploit-and-patch/workflow.yaml
	$(VENV)/bin/wfrun run workflows/hello.yaml

typecheck: $(STAMP)  ## mypy --strict (pydantic plugin) over wfrun, tests and benchmarks
	$(VENV)/bin/mypy

cov: $(STAMP)  ## the test suite under coverage, subprocesses included; report in htmlcov/
	rm -f .coverage .coverage.*
	$(VENV)/bin/coverage run -m pytest -q
	$(VENV)/bin/coverage combine -q
	$(VENV)/bin/coverage report
	$(VENV)/bin/coverage html -q

lint: $(STAMP)  ## ruff check and format
	$(VENV)/bin/ruff check --fix wfrun tests benchmarks
	$(VENV)/bin/ruff format wfrun tests benchmarks

bench: $(STAMP)  ## run the benchmarks (prints tables; installs the peers they compare with)
	$(PY) -m pip install -q -e '.[dev,dask,bench]'
	$(PY) benchmarks/planner_scale.py
	$(PY) benchmarks/engine_overhead.py
	$(PY) benchmarks/load_graph.py
	$(PY) benchmarks/commands.py
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/loading.py
	scripts/with-docker.sh $(PY) benchmarks/containers.py

clean:  ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.* htmlcov

.PHONY: browser help install test checks slow docker-up docker-down demo-containers fuzz-long demo typecheck cov lint bench clean
