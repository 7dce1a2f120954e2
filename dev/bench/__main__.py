"""`python -m bench` (make bench): run every benchmark, write dev/bench/results/*.json and .md."""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import devhost_episode, drill_scale, restore_time, vm_recovery

RESULTS = Path(__file__).parent / "results"
BENCHES = {"restore": restore_time, "devhost": devhost_episode, "drills": drill_scale,
           "vm": vm_recovery}


def main(names: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    for name in names or list(BENCHES):
        module = BENCHES[name]
        result = module.run()
        result["machine"] = {"python": platform.python_version(),
                             "cpus": __import__("os").cpu_count(),
                             "when": datetime.now(UTC).isoformat(timespec="seconds")}
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(module.markdown(result))
        print(module.markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
