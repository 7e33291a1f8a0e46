# The two commands of the README. Each first installs what it needs (scripts/setup.sh).
# Everything else is plain Snakemake, DVC and MLflow, run from the activated .venv.
.PHONY: run test setup

export PATH := $(CURDIR)/.venv/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

setup:
	@bash scripts/setup.sh

# The main job: the sweep params.yaml declares, on the embedded offline default data,
# reproduced and versioned by DVC (which runs Snakemake), tracked in MLflow.
run: setup
	dvc repro
	@echo
	@echo "Results: results/summary.csv, results/report.html, results/<benchmark>_<device>_w<bits>/metrics.json"
	@echo "MLflow:  .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db   (then open http://127.0.0.1:5000)"

# The test suite on tiny configurations (host device, real firmware, real interpreters).
test: setup
	@bash scripts/test.sh
