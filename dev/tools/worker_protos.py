"""Install the Functions RPC protocol messages for devhost's worker:
`python -m tools.worker_protos`.

devhost drives the Python worker's own code (`azure-functions-runtime`, requirements-worker.txt)
with the FunctionRpc protobuf messages the Functions host sends it. The generated message modules
(`FunctionRpc_pb2` and friends) are in neither that wheel nor any other package on PyPI; the
`azure-functions-runtime-v1` wheel carries them for its own tests under `tests/protos/`. Installing
that wheel would put a top-level `tests` package into site-packages, shadowing ours, so this
downloads it (pinned by hash), extracts only `tests/protos/` into site-packages as the package
`functionrpc_protos`, and never installs the rest.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

WHEEL = "azure-functions-runtime-v1==1.2.0"
FILENAME = "azure_functions_runtime_v1-1.2.0-py3-none-any.whl"
SHA256 = "6ae0abb681e28c61a404b52e1c4481f203bb113e5027fbe908989ea9585a02a0"
SOURCE = "tests/protos/"
PACKAGE = "functionrpc_protos"


def install(target: Path | None = None) -> Path:
    """Extract the protocol package into `target` (default: this interpreter's site-packages)."""
    target = Path(target or sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory(prefix="worker-protos-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                        "--disable-pip-version-check", "--no-deps", "--ignore-requires-python",
                        "--dest", tmp, WHEEL], check=True)
        wheel = Path(tmp) / FILENAME
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            raise SystemExit(f"{FILENAME}: sha256 {digest}, expected {SHA256}: refusing to use it")
        package = target / PACKAGE
        shutil.rmtree(package, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(SOURCE) and m.endswith(".py")]
            if not members:
                raise SystemExit(f"{FILENAME} has no {SOURCE}: the protocol messages moved")
            for name in members:
                path = package / name[len(SOURCE):]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(archive.read(name))
        (package / "SOURCE.txt").write_text(f"Extracted from {FILENAME} ({SOURCE}), sha256 "
                                            f"{SHA256}, by dev/tools/worker_protos.py.\n")
    return package


if __name__ == "__main__":
    print(f"Functions RPC protocol messages installed at {install()}")
