#!/usr/bin/env bash
# Everything `make test` needs beyond the machine's Rust toolchain, python3 and git.
set -euo pipefail
need() { command -v "$1" >/dev/null 2>&1 || { echo "install-deps: $1 is required but not on PATH" >&2; exit 1; }; }
need cargo
need git
need make
need python3
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
