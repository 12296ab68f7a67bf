# The two set-up commands the README names: `make run` and `make test`. `make bench` measures.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)

# In CI the suite runs against the machine's real services and fails if they are unreachable.
ifeq ($(CI),true)
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
export REDIS_URL ?= redis://127.0.0.1:6379/0
export MQTT_URL ?= mqtt://127.0.0.1:1883
export VW_REQUIRE_SERVICES := true
endif

.PHONY: run test bench bench-outage bench-history lint clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(BIN)/python manage.py runplatform $(RUN_ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The bench runs on the machine's real services by default; it creates and drops its own
# database and empties its own Redis database (9). Override any of them: make bench BENCH_DATABASE_URL=...
# With BENCH_MQTT_URL empty it runs its own Mosquitto from the platform's generated configuration.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vw_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/9
BENCH_MQTT_URL ?=

bench: $(STAMP)
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) MQTT_URL=$(BENCH_MQTT_URL) \
	VW_CHANNELS_PREFIX=bench $(BIN)/python manage.py bench $(BENCH_ARGS)

# 10,000 devices silent at once: deadline to incident and to every episode, exactly once.
# Its own database (dropped afterwards); BENCH_OUTAGE_ARGS e.g. "--devices 2000".
BENCH_OUTAGE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vw_bench_outage

bench-outage: $(STAMP)
	DATABASE_URL=$(BENCH_OUTAGE_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) MQTT_URL= \
	VW_CHANNELS_PREFIX=bench-outage $(BIN)/python manage.py bench_outage $(BENCH_OUTAGE_ARGS)

# A year of a 300-bed ward (50M readings) against its first week (1M): docs/benchmarks.md#history.
# Its own database (dropped afterwards); BENCH_HISTORY_ARGS e.g. "--rows 5M".
BENCH_HISTORY_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vw_bench_history

bench-history: $(STAMP)
	DATABASE_URL=$(BENCH_HISTORY_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) MQTT_URL= \
	VW_CHANNELS_PREFIX=bench-history $(BIN)/python manage.py bench_history $(BENCH_HISTORY_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf var test-artifacts bench-results
