# The few commands a person types. Everything else lives in ci/ and cargo.
SHELL := /bin/bash
PYTHON ?= python3
CARGO ?= cargo
FORK := $(PYTHON) ci/fork.py
# The one release build: `make run` and every benchmark that runs a binary use
# it. Cargo unifies features over the packages named, so another selection
# (`-p polaroid-cli` alone has no DataFusion beside it) is a different build
# of polars: about half an hour more on two cores.
RELEASE_BUILD := $(CARGO) build --release --locked -p polaroid-server -p polaroid-cli --bins

.PHONY: run ballista deps fork fork-check fork-export fork-rebase fork-rebase-continue fork-rebase-abort \
        test test-fork test-rust test-python bench bench-distributed ballista-release bench-flight bench-python bench-sql bench-tpch bench-http bench-pg bench-bars bench-run build clean-fork fork-clean-cache test-fork-crates python-env python-proto fuzz load load-debug

## run: build in release (polaroid-server and the polaroid command) and start
## polaroid-server with its defaults (127.0.0.1:50051, ./data with sample
## trades/quotes). Extra flags: make run ARGS="--handle-ttl 1h"
run: fork
	$(RELEASE_BUILD)
	./target/release/polaroid-server $(ARGS)

## fork: materialize polars-fork/crates from the pin + patches/ (a no-op when up to date)
fork:
	@$(FORK) sync $(if $(FORCE),--force)

## fork-check: validate the patch queue (series, names, DEP-3 headers, zero-fuzz apply, Cargo.toml)
fork-check:
	@$(FORK) check

## fork-export: turn commits made in polars-fork/crates back into patches/
fork-export:
	@$(FORK) export

## fork-rebase TO=X.Y.Z: replay the queue onto another Polars release
fork-rebase:
	@test -n "$(TO)" || { echo "usage: make fork-rebase TO=0.56.0" >&2; exit 2; }
	@$(FORK) rebase --to "$(TO)"

fork-rebase-continue:
	@$(FORK) rebase-continue

fork-rebase-abort:
	@$(FORK) rebase-abort

## test: the queue tool's tests, every workspace test, then the real Python clients
test: fork test-fork test-rust test-python

test-fork:
	$(PYTHON) -m unittest discover -s ci/tests -t . -v

test-rust: fork python-env
	$(CARGO) test --workspace --locked

## python-env: .venv with the Python clients (pyarrow.flight) tests and benches use
python-env:
	@bash ci/python-env.sh

## deps: python-env, then what the clients' tests need beyond it (Debian's JDBC
## driver, Java, Go with pgx and lib/pq, PostgreSQL's server, Node.js, as root or via sudo;
## npm ci of the Node.js drivers); quick when all is there
deps:
	@bash ci/install-deps.sh

## test-python: pyarrow.flight, then the polaroid Python package (pip-installed
## from python/, stubs checked current), then QuestDB's own clients (questdb-rest,
## questdb ILP) against the HTTP door, then psql, psycopg, asyncpg, connectorx, ADBC,
## SQLAlchemy, psycopg2, PostgreSQL's JDBC driver, Go's pgx and lib/pq, node-postgres and postgres.js
## against the PostgreSQL door (Grafana's queries, pgx and Node.js checked against a
## PostgreSQL 15 server started for them), all against polaroid-server child processes
test-python: fork deps ballista
	$(CARGO) build --locked -p polaroid-server --bin polaroid-server
	POLAROID_SERVER=target/debug/polaroid-server .venv/bin/python -m unittest discover -s polaroid-grpc/tests/python -v
	.venv/bin/python ci/gen_python_proto.py --check
	.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation ./python
	rm -rf python/build python/polaroid.egg-info
	cd python/tests && POLAROID_SERVER=$(CURDIR)/target/debug/polaroid-server \
	  BALLISTA_SCHEDULER=$(CURDIR)/target/debug/ballista-scheduler BALLISTA_EXECUTOR=$(CURDIR)/target/debug/ballista-executor \
	  ../../.venv/bin/python -m pytest -q -p no:cacheprovider .
	cd polaroid-http/tests/python && POLAROID_SERVER=$(CURDIR)/target/debug/polaroid-server ../../../.venv/bin/python -m pytest -q -p no:cacheprovider .
	cd polaroid-pgwire/tests/python && POLAROID_SERVER=$(CURDIR)/target/debug/polaroid-server ../../../.venv/bin/python -m pytest -q -p no:cacheprovider .

## ballista: Ballista's own scheduler and executor binaries (the crates.io release
## the workspace pins, built from its lock file) for the real-cluster test and for
## running a cluster by hand: target/debug/ballista-scheduler, ballista-executor
ballista: fork
	$(CARGO) build --locked -p ballista-scheduler --bin ballista-scheduler -p ballista-executor --bin ballista-executor

## python-proto: regenerate the Python client's gRPC stubs after a .proto change
python-proto: python-env
	.venv/bin/python ci/gen_python_proto.py

## bench: every benchmark, each printing its ratio against a baseline run beside it
bench: fork bench-flight bench-python bench-sql bench-tpch bench-http bench-pg bench-bars bench-run ballista-release
	$(CARGO) bench --workspace --locked

## bench-flight: DoGet read by pyarrow.flight vs the native Fetch, same handle, same run
bench-flight: fork python-env
	$(RELEASE_BUILD)
	POLAROID_SERVER=target/release/polaroid-server .venv/bin/python polaroid-grpc/benches/flight.py

## bench-sql: SQL's correlated subqueries on the server (the prevailing quote of
## each trade, a running total) beside DuckDB and python polars' join_asof
bench-sql: fork python-env
	$(RELEASE_BUILD)
	POLAROID_SERVER=target/release/polaroid-server .venv/bin/python python/bench/bench_sql.py

## bench-tpch: TPC-H's 22 queries in SQL at scale factor 1 on the server, beside
## python polars' SQL in process and DuckDB on the same parquet files
bench-tpch: fork python-env
	$(RELEASE_BUILD)
	POLAROID_SERVER=target/release/polaroid-server .venv/bin/python python/bench/bench_tpch.py

## bench-python: the Python client's to_arrow() beside DoGet of the same handle,
## and a 10-step query's client overhead beside local python-polars
bench-python: fork python-env
	$(RELEASE_BUILD)
	.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation ./python
	rm -rf python/build python/polaroid.egg-info
	POLAROID_SERVER=target/release/polaroid-server .venv/bin/python python/bench/bench_client.py

## bench-distributed: one aggregation over 10M rows of parquet on polars in-process,
## Ballista standalone and Ballista with 2 executor processes (its release binaries)
bench-distributed: fork ballista-release
	$(CARGO) bench --workspace --locked --bench distributed

## ballista-release: Ballista's scheduler and executor in release, for the benchmark
ballista-release: fork
	$(CARGO) build --release --locked -p ballista-scheduler --bin ballista-scheduler -p ballista-executor --bin ballista-executor

## bench-bars: 1-minute bars of 10M ticks (parquet in and out): polaroid bars
## beside python polars group_by_dynamic and DuckDB time_bucket, same run
## (POLAROID_BASELINE=<another polaroid binary> runs it in the same rounds too)
bench-bars: fork python-env
	$(RELEASE_BUILD)
	POLAROID=target/release/polaroid .venv/bin/python polaroid-cli/benches/bars_vs.py

## bench-run: a warm `make run` (nothing to build), from the command until the
## server answers on its port
bench-run: fork python-env
	$(RELEASE_BUILD)
	.venv/bin/python polaroid-server/benches/warm_run.py

## bench-http: the HTTP door (release server): /exec and /exp of 1M rows against
## Flight DoGet and local polars, and ILP ingest with QuestDB's own client
bench-http: fork python-env
	$(RELEASE_BUILD)
	POLAROID_SERVER=target/release/polaroid-server .venv/bin/python polaroid-http/benches/http_bench.py

## bench-pg: the PostgreSQL door's SELECT through psycopg (text, binary, a named cursor),
## asyncpg and read_database_uri (connectorx, ADBC) against Flight DoGet and in-process
## polars; executemany INSERT and ADBC's COPY against ILP over HTTP; the server's memory
bench-pg: fork python-env
	$(RELEASE_BUILD)
	POLAROID_SERVER=target/release/polaroid-server .venv/bin/python polaroid-pgwire/benches/pg_bench.py

## load: 64 clients x 20 pipelines against a real polaroid-server, two waves:
## no errors, handles back to baseline, server RSS flat (not part of CI)
load: fork
	$(RELEASE_BUILD)
	POLAROID_SERVER=target/release/polaroid-server $(CARGO) bench --locked -p polaroid-grpc --bench load

## load-debug: the same against the debug server (no release build of polars needed)
load-debug: fork
	$(CARGO) build --locked -p polaroid-server --bin polaroid-server
	POLAROID_SERVER=target/debug/polaroid-server $(CARGO) bench --locked --profile dev -p polaroid-grpc --bench load

## fuzz: each fuzz target (expr, upload, ohlcv) for FUZZ_TIME (default 10m),
## seeded and repeatable; panicking inputs land in target/fuzz-findings/.
## Not part of CI. Example: make fuzz FUZZ_TIME=1m FUZZ_SEED=3
FUZZ_TIME ?= 10m
FUZZ_SEED ?= 1
fuzz: fork
	$(CARGO) build --locked -p polaroid-fuzz
	@status=0; for t in expr upload ohlcv; do \
		./target/debug/polaroid-fuzz $$t --time $(FUZZ_TIME) --seed $(FUZZ_SEED) 2>/dev/null || status=1; \
	done; exit $$status

build: fork
	$(CARGO) build --release --workspace --locked

clean-fork:
	rm -rf polars-fork/crates polars-fork/.stamp polars-fork/.queue-head polars-fork/.crates.new

## test-fork-crates: upstream's own tests of the crates our patches touch
## (polars-error, polars-async, polars-buffer, polars-arrow IPC, polars-sql), on the patched
## tree, built in target/fork-crates. Not part of CI (see docs/patch-queue.md)
test-fork-crates: fork
	@$(FORK) test-crates $(CRATES)

## fork-clean-cache: empty the pristine-release cache (kept across checkouts and `cargo clean`)
fork-clean-cache:
	@$(FORK) clean-cache
