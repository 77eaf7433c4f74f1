#!/usr/bin/env python3
"""Allow rustc warnings in every materialized Polars crate (generator of patch 0002).

The fork's crates are path dependencies, so cargo does not cap their lints
the way it does for registry crates: without this, every build prints
hundreds of upstream warnings (more after patch 0001 leaves imports unused)
and hides the warnings of our own crates. Only [lints.rust] of the fork's
manifests changes; the workspace's own crates keep their lints.

    python3 ci/quiet_lints.py polars-fork/crates
"""

import os
import re
import sys
from pathlib import Path

LINE = 'warnings = "allow"'


def quiet(manifest: Path) -> bool:
    text = manifest.read_text()
    if re.search(r'^\[lints\.rust\]\n(?:(?!\[).*\n)*?warnings\s*=', text, re.M):
        return False
    if re.search(r"^\[lints\.rust\]$", text, re.M):
        text = re.sub(r"^\[lints\.rust\]$", f"[lints.rust]\n{LINE}", text, count=1, flags=re.M)
    else:
        text = text.rstrip("\n") + f"\n\n[lints.rust]\n{LINE}\n"
    manifest.write_text(text)
    return True


def main(root: str) -> int:
    for manifest in sorted(Path(root).glob("*/Cargo.toml")):
        quiet(manifest)
    return 0


if __name__ == "__main__":
    # The queue tool runs generators with the tree in POLAROID_FORK_TREE.
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("POLAROID_FORK_TREE", "polars-fork/crates")))
