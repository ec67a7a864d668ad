# Set-up and the main jobs. `make demo` and `make test` each set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
SAMPLE := corpora/samples/sentiment
RUNS ?= runs

.PHONY: setup demo test test-fast lint bench clean samples mutate

setup: $(VENV)/.installed

# torch first, as a CPU build: the machine's own CPU wheel where it offers one (pip's find-links),
# else PyTorch's CPU index. A bare `torch` requirement would pull several GB of CUDA packages.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "torch==$(TORCH_VERSION)+cpu" \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check "torch==$(TORCH_VERSION)" \
	       --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,plot,spacy-model,serve]"
	touch $@

# The main job on the embedded sample: train a Tree-LSTM, show labelled trees, evaluate.
demo: setup
	$(BIN)/treeseq train tree --data-dir $(SAMPLE) --output $(RUNS)/demo.pt --epochs 6 --overwrite \
	  --lowercase --embed-dim 50 --hidden-size 50 --dropout 0.1
	$(BIN)/treeseq classify --model $(RUNS)/demo.pt --trees < $(SAMPLE)/examples.txt
	$(BIN)/treeseq evaluate --model $(RUNS)/demo.pt --data-dir $(SAMPLE) --split test

test: setup lint
	$(BIN)/python -m pytest -p no:cacheprovider

# The linter's rules are in pyproject.toml ([tool.ruff]); `make test` fails on a finding.
lint: setup
	$(BIN)/ruff check treeseq cli corpora tests benchmarks

test-fast: setup
	$(BIN)/python -m pytest -p no:cacheprovider -m "not slow"

# Mutation testing of the numerical core and metrics, module by module (docs/testing.md): the score per
# module at the end. MUTATE="nn.crf metrics" runs some modules only; results stay in mutants/.
MUTATE ?=
mutate: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[mutate]"
	OMP_NUM_THREADS=1 $(BIN)/python tests/mutation_report.py run $(MUTATE)

bench: setup
	$(BIN)/python benchmarks/tree.py

samples:
	$(BIN)/python -m treeseq.corpora.samples.make_samples

clean:
	rm -rf $(VENV) $(RUNS) .pytest_cache mutants
