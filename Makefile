# The two commands of the README: `make run` (the whole system on its embedded default) and `make test`.
# Both install what they need into .venv first; re-running skips what is already installed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
TEST_STAMP := $(VENV)/.test-deps-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# setuptools' editable build ends with a framed notice about folders named like the package in the working
# directory: here those folders are the checkout, the very package installed, so it says nothing to act on.
# Only that notice is filtered (pip re-raises a build's warnings as UserWarnings in its own process): pip's
# errors and every other warning, such as what this machine's pip.conf makes pip say, are shown.
PIP_INSTALL := $(PY) -W "ignore:Editable installation:UserWarning" -m pip install --quiet

.PHONY: run test test-fast gates test-skill deps test-deps browser gettext messages

run: deps
	$(PY) manage.py runstack

test: test-deps browser gettext
	$(PY) -m pytest $(PYTEST_ARGS)

# The fast suite while working: no real processes, no browser; 4-5 minutes on 2 cores (docs: README).
test-fast: test-deps
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# Lint, format, types, import contracts, migrations (.ci/gates); CI runs them before the suite.
gates: test-deps
	.ci/gates

# A skill's tests from a fresh clone, no browser needed: make test-skill TESTS=tests/test_dice.py
test-skill: test-deps
	$(PY) -m pytest -q -m "not slow and not browser" $(or $(TESTS),tests/botcore/skills)

deps: $(DEPS_STAMP)
test-deps: $(TEST_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# pip runs --quiet, so say first what the silent minutes are (a fresh clone's install takes a few).
$(DEPS_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "Installing vibeapp and the sandbox into $(VENV) (quiet; a few minutes the first time)"
	$(PIP_INSTALL) -e ".[sandbox]"
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "Installing vibeapp with the test tools into $(VENV) (quiet; a few minutes the first time)"
	$(PIP_INSTALL) -e ".[sandbox,test]"
	touch $(DEPS_STAMP) $@

# Translations (docs/translating.md): extract every marked text into locale/<lang>/LC_MESSAGES/django.po,
# then compile the .mo files, which are committed so that running the app never needs GNU gettext.
messages: deps gettext
	$(PY) manage.py makemessages --all --no-obsolete --add-location=file \
	  --ignore=.venv --ignore=sandbox --ignore=tests --ignore=benchmarks --ignore=deploy --ignore=docs
	$(PY) manage.py compilemessages --ignore=.venv

# GNU gettext: makemessages/compilemessages and the catalogue test need it, running the app does not.
gettext:
	@command -v msgcmp >/dev/null 2>&1 || { \
	  exec 9>"$${TMPDIR:-/tmp}/vibeapp-apt.lock"; flock 9; \
	  command -v msgcmp >/dev/null 2>&1 || { \
	    echo "Installing GNU gettext for the translation tools"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq gettext >/dev/null; }; }

# Browser tests drive Debian's chromium through Playwright; Playwright never downloads a browser of its own.
# Installs wait for each other (two first runs at once would otherwise meet apt's lock and fail).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  exec 9>"$${TMPDIR:-/tmp}/vibeapp-apt.lock"; flock 9; \
	  command -v chromium >/dev/null 2>&1 || { \
	    echo "Installing Debian's chromium for the browser tests"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null; }; }
