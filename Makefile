# The front door: `make run` starts the platform, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
GEN := build/proto
PROTOS := $(shell find proto -name '*.proto')

.PHONY: venv proto run test bench images clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements-test.txt
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/$(GEN)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/psp.pth"
	touch $@

proto: $(GEN)/.built

$(GEN)/.built: $(PROTOS) $(VENV)/.installed
	rm -rf $(GEN) && mkdir -p $(GEN)
	$(PY) -m grpc_tools.protoc -I proto --python_out=$(GEN) --pyi_out=$(GEN) $(PROTOS)
	touch $@

run: proto
	$(PY) -m services.run

test: proto
	$(PY) -m pytest

bench: proto
	$(PY) -m bench

images:
	docker build -f docker/Dockerfile -t psp:latest .

clean:
	rm -rf $(VENV) build var
