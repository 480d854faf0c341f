# Two commands matter: `make demo` (the main job) and `make test` (the whole suite). Both set everything up.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
export UV_LINK_MODE := copy
CRM := .venv/bin/crm

.PHONY: demo test serve stop db venv bench lint help ui mlflow

help:
	@echo "make demo   - start everything and replay a synthetic Meta stream (the main job)"
	@echo "make test   - run the whole test suite (unit, integration on real PostgreSQL, e2e)"
	@echo "make serve  - API + worker in the background (returns when /readyz answers)"
	@echo "make stop   - stop API, worker and the embedded PostgreSQL"
	@echo "make bench  - ingest benchmark (see bench/README.md)"
	@echo "make ui     - the Dagster UI and daemon on 127.0.0.1:3000 (data platform), in the background"
	@echo "make mlflow - the MLflow UI on 127.0.0.1:5000 (experiments, registered models), in the background"

venv: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@bash scripts/bootstrap.sh
	@touch $@

db: venv
	@$(CRM) db up

demo: venv
	@$(CRM) demo

serve: venv
	@$(CRM) serve --detach

ui: venv
	@$(CRM) ui --detach

mlflow: venv
	@$(CRM) mlflow --detach

stop:
	@if [ -x $(CRM) ]; then $(CRM) stop --db; fi

test: venv
	@n8n_bin="$$(bash scripts/install_n8n.sh)" && N8N_BIN="$$n8n_bin" .venv/bin/python -m pytest $(PYTEST_ARGS)

bench: venv
	@.venv/bin/python bench/ingest.py $(BENCH_ARGS)
