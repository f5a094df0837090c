# The two commands a newcomer needs:  `make demo` (the main job) and `make test` (the suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

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

bench: $(BIN)/cloudrun
	$(BIN)/python benchmarks/bench_plan.py
	$(BIN)/python benchmarks/bench_deploy.py

clean:
	rm -rf $(VENV) build *.egg-info
