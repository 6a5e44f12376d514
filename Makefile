# botdesk: `make run` serves the default bot on 127.0.0.1:8000, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint bench clean chromium dovecot screenshots i18n

# Browser tests drive Debian's Chromium through Playwright (nothing is downloaded by Playwright).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "botdesk needs Python 3.11+; set PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests and the benchmark use the optional sentence embeddings (extra `embeddings`, ~1 GB).
# torch goes first, pinned to the CPU build kept on this project's machines: left to resolve
# `torch>=2.2` itself, pip would fetch a CUDA build of several GB. Elsewhere pass your own, e.g.
# TORCH="torch==2.13.0 --index-url <PyTorch's CPU index>".
TORCH ?= torch==2.13.0

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev,postgres,embeddings]"
	touch $@ $(STAMP_RUN)

# A real Rasa action server (rasa-sdk) for the custom-action tests, in its own virtualenv:
# rasa-sdk pins its own web stack. tests/rasa_sdk.py names the version and creates it too.
SDK_STAMP := .venv-rasa-sdk/.installed

$(SDK_STAMP): | $(BIN)/python
	$(BIN)/python -c "from tests.rasa_sdk import sdk_python; sdk_python()"

# --shop-stub: the demo shop's order API beside the server (skipped when BOTDESK_SHOP_URL is set).
run: $(STAMP_RUN)
	$(BIN)/botdesk train && $(BIN)/botdesk run --shop-stub

lint: $(STAMP_DEV)
	$(BIN)/ruff check bot handoff tests benchmarks examples/channels
	$(BIN)/mypy
	$(BIN)/mypy examples/channels/sms_gateway.py  # the channel of docs/channels/example.md
	$(BIN)/lint-imports

# The panel's message catalogs (docs/panel.md, "Languages"): extract the marked texts, merge them into
# bot/i18n/locale/*/LC_MESSAGES/botdesk.po (translate what is new there), compile the .mo files.
# Installing botdesk compiles them too (hatch_build.py); tests/i18n checks that nothing is untranslated.
I18N := bot/i18n/locale
i18n: $(STAMP_DEV)
	$(BIN)/pybabel extract -F babel.cfg -k Text -k t -k gendered:2 --add-location=file --sort-output \
		--no-wrap --project botdesk -o $(I18N)/botdesk.pot .
	$(BIN)/pybabel update -i $(I18N)/botdesk.pot -d $(I18N) -D botdesk --no-wrap --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(I18N) -D botdesk --statistics

chromium:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# The e-mail channel's tests read mail from a real IMAP server: Debian's dovecot, which each test run
# starts itself on 127.0.0.1 with its own config in a temp dir (tests/helpers/dovecot.py). The package's
# own system service is not wanted: where systemd runs it, it is stopped and disabled again.
dovecot:
	@[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null || { \
		echo "installing Debian's dovecot-imapd for the e-mail channel's tests"; \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd && \
		if [ -d /run/systemd/system ]; then $(SUDO) systemctl disable --now dovecot.service dovecot.socket || true; fi; }

# Two workers (pytest-xdist): one per core of the CI machine; every test keeps to its own
# ports, temp dirs, PostgreSQL schema and Redis names, so they run side by side.
test: lint chromium dovecot $(SDK_STAMP)
	$(BIN)/pytest -n 2

# The key screens for the docs, taken by the browser tests (emoji need a font in headless Chromium).
screenshots: $(STAMP_DEV) chromium
	@[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || \
		$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-color-emoji
	BOTDESK_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser

# RASA_URL=http://127.0.0.1:5005 adds a Rasa server started by hand to the REST load table
# (docs/benchmarks.md says how to start one); RASA_PID=<its process id> adds its CPU time.
bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/nlu.py
	$(BIN)/python benchmarks/store_writes.py
	$(BIN)/python benchmarks/rest_load.py --suite $(if $(RASA_URL),--rasa-url $(RASA_URL)) \
		$(if $(RASA_PID),--rasa-pid $(RASA_PID))

clean:
	rm -rf $(VENV) .venv-rasa-sdk models reports .pytest_cache .mypy_cache .ruff_cache
