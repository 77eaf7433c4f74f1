#!/usr/bin/env bash
# Creates (or refreshes) .venv with the Python clients the tests and benches
# use: pyarrow.flight. Re-running is a no-op when ci/requirements.txt is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.requirements.sha
want=$(sha256sum ci/requirements.txt | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    exit 0
fi
"$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r ci/requirements.txt
echo "$want" > "$stamp"
