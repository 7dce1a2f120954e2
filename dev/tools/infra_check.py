"""`python -m tools.infra_check`: the same as `python -m tools.infra` (see dev/tools/infra)."""

import sys

from tools.infra.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
