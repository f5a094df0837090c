# The two commands a newcomer needs:  `make demo` (the main job) and `make test` (the suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean live-test fuzz

$(BIN)/cloudrun: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The ranked plan for DeepSeek LLM 67B chat, then a full deploy -> status -> invoke -> down cycle of a
# DeepSeek model against the local emulated clouds (no account, no spend).
demo: $(BIN)/cloudrun
	$(BIN)/cloudrun plan deepseek-ai/deepseek-llm-67b-chat --hours 40
	$(BIN)/cloudrun sandbox demo deepseek-ai/DeepSeek-R1-Distill-Qwen-7B

test: $(BIN)/cloudrun
	$(BIN)/ruff check .
	$(BIN)/pytest

# The property tests over every input format and flag (tests/test_fuzz_inputs.py), with many more examples than CI's
# fixed-seed run, new random ones each time (a failure prints how to replay it); ~15 min. FUZZ_EXAMPLES=N to change.
FUZZ_EXAMPLES ?= 2000
fuzz: $(BIN)/cloudrun
	CLOUDRUN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) CLOUDRUN_FUZZ_RANDOM=1 $(BIN)/pytest tests/test_fuzz_inputs.py

bench: $(BIN)/cloudrun
	$(BIN)/python benchmarks/bench_plan.py
	$(BIN)/python benchmarks/bench_deploy.py
	$(BIN)/python benchmarks/bench_stage.py

# Opt-in, on a real account, never in CI: deploys the smallest model on PROVIDER's cheapest GPU, calls it, removes
# it, prints the cost (docs/live-test.md). Needs CLOUDRUN_LIVE_TEST=1 and that provider's credentials.
live-test: $(BIN)/cloudrun
	@test -n "$(PROVIDER)" || (echo "usage: make live-test PROVIDER=aws|gcp|azure" && exit 2)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/live_test.py --provider $(PROVIDER)

clean:
	rm -rf $(VENV) build *.egg-info
