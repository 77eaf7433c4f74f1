#!/usr/bin/env python3
"""Generate the Python client's gRPC stubs from polaroid-grpc/proto.

    python ci/gen_python_proto.py            # write python/polaroid/v1/*_pb2*.py
    python ci/gen_python_proto.py --check    # fail if the committed stubs are stale

The proto package is `polaroid.v1`, so the stubs live at
python/polaroid/v1/ and their own `from polaroid.v1 import ...` resolves
inside our package. Needs grpcio-tools (in .venv, see ci/requirements.txt).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "polaroid-grpc" / "proto"
PROTO = "polaroid/v1/polaroid.proto"
OUT = ROOT / "python"
STUBS = ["polaroid/v1/polaroid_pb2.py", "polaroid/v1/polaroid_pb2_grpc.py", "polaroid/v1/polaroid_pb2.pyi"]


def generate(out: Path) -> None:
    from grpc_tools import protoc

    include = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out}",
                        f"--pyi_out={out}", f"--grpc_python_out={out}", PROTO])
    if code != 0:
        raise SystemExit(f"protoc failed on {PROTO}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not args.check:
        generate(OUT)
        print(f"wrote {', '.join(STUBS)} under python/")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = [s for s in STUBS if (Path(tmp) / s).read_bytes() != (OUT / s).read_bytes()]
    if stale:
        print(f"stale stubs: {stale}; run `python ci/gen_python_proto.py` and commit", file=sys.stderr)
        return 1
    print("python stubs are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
