# GridGov — the two commands a newcomer needs:
#   make run    install everything, load the small demo district on SQLite, serve http://127.0.0.1:8000
#   make test   install everything and run every test
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PORT ?= 8000
SCALE ?= small
PYTEST_ARGS ?=

.PHONY: install frontend api-types run demo serve worker test typecheck lint format messages bench bench-intake bench-partition bench-import bench-rental clean

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --inexact
	@if [ -f frontend/package.json ]; then $(MAKE) --no-print-directory frontend; fi

# The web app (Vue, Vite): installed from package-lock.json and built into the Django static folder.
frontend:
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build

# The web app's API types (frontend/src/api/schema.d.ts) from the server's OpenAPI document: run after a
# change to an API schema and commit the result (`make test` fails while they differ).
api-types:
	cd frontend && UV="$(UV)" npm run --silent api-types

run: install
	GRIDGOV_PORT=$(PORT) $(UV) run gridgov demo --scale $(SCALE)
	$(UV) run gridgov serve --port $(PORT)

demo: install
	$(UV) run gridgov demo --scale $(SCALE)

serve: install
	$(UV) run gridgov serve --port $(PORT)

worker: install
	$(UV) run gridgov worker

test: install
	$(UV) run ruff check src bench tests
	$(UV) run python manage.py makemigrations --check --dry-run
	@if [ -f frontend/package.json ]; then cd frontend && npm run --silent test:unit && UV="$(UV)" npm run --silent api-types:check; fi
	$(UV) run mypy
	$(UV) run pytest -q $(PYTEST_ARGS)

# Type-check the kernel and the apps named in pyproject.toml [tool.mypy] files (django-stubs, pydantic).
# The API fuzz run tries GRIDGOV_FUZZ_EXAMPLES inputs per operation and role (default 8); a long run:
#   GRIDGOV_FUZZ_EXAMPLES=200 make test PYTEST_ARGS=tests/test_api_fuzz.py
typecheck: install
	$(UV) run mypy

lint: install
	$(UV) run ruff check src bench tests
	$(UV) run ruff format --check src bench tests

format: install
	$(UV) run ruff format src bench tests
	$(UV) run ruff check --fix src bench tests

# Extract and compile the zh-hans / en translations (needs GNU gettext's msgfmt).
messages: install
	cd src/gridgov && $(UV) run django-admin makemessages -l zh_Hans --no-obsolete --settings=gridgov.settings
	cd src/gridgov && $(UV) run django-admin compilemessages --settings=gridgov.settings

bench: install
	GRIDGOV_DATA_DIR=var/bench $(UV) run python bench/locate.py --demo district

# Case intake through the real server on PostgreSQL (a fresh database unless DATABASE_URL is set);
# options: make bench-intake BENCH_ARGS="--seconds 10 --clients 8"
bench-intake: install
	$(UV) run python bench/intake.py $(BENCH_ARGS)

# Grid re-division against spopt, pygeoda and GerryChain (the bench dependency group).
bench-partition: install
	$(UV) sync --frozen --inexact --group bench
	GRIDGOV_DATA_DIR=var/bench $(UV) run python bench/partition.py $(BENCH_ARGS)

# Resident import with full validation against PostgreSQL COPY and django-import-export.
bench-import: install
	$(UV) sync --frozen --inexact --group bench
	$(UV) run python bench/import.py $(BENCH_ARGS)

# Rental figures at district scale: the API (kept counts) against a naive GROUP BY over the rooms, same run.
# options: make bench-rental BENCH_ARGS="--rooms 100000 --repeat 3"
bench-rental: install
	$(UV) run python bench/rental_figures.py $(BENCH_ARGS)

clean:
	rm -rf var .venv
