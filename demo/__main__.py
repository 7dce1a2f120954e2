"""`make demo`: a restore end to end against azsim under devhost (issue 4, not built yet)."""

import sys

print("make demo: the restore orchestration is not built yet (issue 4); devhost and azsim are.",
      file=sys.stderr)
sys.exit(1)
