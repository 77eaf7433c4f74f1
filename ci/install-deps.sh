#!/usr/bin/env bash
# Everything `make test` needs beyond the machine's Rust toolchain, python3 and git.
set -euo pipefail
need() { command -v "$1" >/dev/null 2>&1 || { echo "install-deps: $1 is required but not on PATH" >&2; exit 1; }; }
need cargo
need git
need make
need python3
# The workspace's rust-version (Cargo.toml) is the oldest rustc that builds the
# locked graph; say so plainly rather than let cargo fail deep in polars.
want_rust=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
have_rust=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$want_rust" "$have_rust" | sort -V | head -1)" != "$want_rust" ]; then
    echo "install-deps: rustc $want_rust or newer is required (polars' dependencies need it), found $have_rust;" >&2
    echo "install-deps: run \`rustup update stable\` (or install a newer toolchain) and try again" >&2
    exit 1
fi
python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"install-deps: python3 >= 3.11 is required (tomllib), found {sys.version.split()[0]}")
try:
    import ensurepip, venv  # noqa: F401  (ci/python-env.sh makes .venv with them)
except ImportError as e:
    sys.exit(f"install-deps: python3 needs the venv module with pip ({e}); on Debian: apt-get install python3-venv")
PY
# The Python clients the tests use (pyarrow.flight), into .venv.
bash ci/python-env.sh
# Debian's packages for the PostgreSQL door's tests (polaroid-pgwire/tests/python),
# as root or through sudo: PostgreSQL's JDBC driver and a Java runtime to run it
# (test_jdbc.py), Go with pgx and lib/pq (test_go.py), Node.js (test_node.py),
# and PostgreSQL's own server, the oracle of test_grafana.py, test_go.py and
# test_node.py.
packages=()
[ -f /usr/share/java/postgresql.jar ] || packages+=(libpostgresql-jdbc-java)
command -v java >/dev/null 2>&1 || packages+=(default-jre-headless)
command -v go >/dev/null 2>&1 || packages+=(golang-go)
[ -d /usr/share/gocode/src/github.com/jackc/pgx/v4 ] || packages+=(golang-github-jackc-pgx-v4-dev)
[ -d /usr/share/gocode/src/github.com/lib/pq ] || packages+=(golang-github-lib-pq-dev)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || packages+=(postgresql)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
if [ ${#packages[@]} -gt 0 ]; then
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "install-deps: installing $* needs root (or sudo)" >&2; return 1; fi; }
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y --no-install-recommends "${packages[@]}" \
        || { as_root apt-get update && as_root apt-get install -y --no-install-recommends "${packages[@]}"; }
fi
# Node.js's PostgreSQL drivers (pg, postgres.js) at the versions the lock file pins.
(cd polaroid-pgwire/tests/node && npm ci --no-audit --no-fund --loglevel=error)
