# Set-up and everyday commands. `make serve` and `make test` work on a fresh machine:
# they create the virtual environment and install what is needed first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test setup build lint typecheck check-java clean

serve: setup check-java build
	$(BIN)/rivalry serve

# The suite runs in one process per core (pytest-xdist); TEST_PROCESSES=0 runs it in one.
TEST_PROCESSES ?= auto

test: setup check-java
	$(BIN)/python -m pytest --numprocesses $(TEST_PROCESSES) $(PYTEST_ARGS)

build: setup check-java
	$(BIN)/rivalry build

setup: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; this is " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
		echo "Cannot create a virtual environment; on Debian install it with: apt-get install python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The query page's editor (YASGUI), from the npm registry; never copied into the repository.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		echo "npm is missing. The query page's editor (YASGUI) is installed with npm: install Node.js 18 or newer (Debian: apt-get install nodejs npm)." >&2; \
		exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

check-java:
	@command -v java >/dev/null 2>&1 || { \
		echo "Java is missing. The HermiT reasoner (the consistency check of every build) needs a Java runtime, 11 or newer." >&2; \
		echo "Install one, for example on Debian or Ubuntu: apt-get install default-jre-headless" >&2; \
		exit 1; }

lint: setup
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory typecheck

# mypy cannot follow pyproject's package-dir table (folder graph/ is package rivalry.graph),
# so it checks a tree of links that has the package's real shape: .typecheck/rivalry/graph
# -> graph/, and so on. The settings are pyproject's [tool.mypy].
TYPECHECK_PARTS := ontology shapes graph server
typecheck: setup
	@mkdir -p .typecheck/rivalry
	@for part in $(TYPECHECK_PARTS); do ln -sfn ../../$$part .typecheck/rivalry/$$part; done
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml -p rivalry

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .ruff_cache .typecheck
