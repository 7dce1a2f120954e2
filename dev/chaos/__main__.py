"""`python -m chaos --runs N --seed S`: the chaos suite. One JSON summary on stdout, a short
human summary on stderr, everything under .chaos/; exit code 0 iff no invariant was violated."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .driver import Options, recheck, run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=300, help="accepted requests to run (300)")
    p.add_argument("--seed", type=int, default=1, help="replays a run plan (1)")
    p.add_argument("--concurrency", type=int, default=Options.concurrency,
                   help="requests in flight per environment")
    p.add_argument("--runs-per-env", type=int, default=Options.runs_per_env,
                   help="runs per environment (azsim + Azurite + devhost) before a fresh one")
    p.add_argument("--time-scale", type=float, default=Options.time_scale,
                   help="divide azsim's Azure durations by this")
    p.add_argument("--poll-scale", type=float, default=None,
                   help="divide the app's probe/poll intervals by this (default: time scale)")
    p.add_argument("--deadline", type=float, default=Options.deadline,
                   help="seconds a run may take from submission to done")
    p.add_argument("--kill-mean", type=float, default=None,
                   help="mean seconds between SIGKILLs (default: drawn per environment)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / ".chaos")
    p.add_argument("--quiet", action="store_true", help="no per-run lines on stderr")
    p.add_argument("--recheck", type=Path, metavar="RESULTS_DIR",
                   help="run nothing: check the invariants again over a finished run's saved "
                        "results (.chaos/<time>-seed<S>/)")
    a = p.parse_args(argv)
    if a.recheck is not None:
        summary = recheck(a.recheck)
        print(json.dumps(summary))
        _human(summary)
        return 0 if not summary["violations"] else 1
    options = Options(runs=a.runs, seed=a.seed, concurrency=a.concurrency,
                      runs_per_env=a.runs_per_env, time_scale=a.time_scale,
                      poll_scale=a.poll_scale or a.time_scale, deadline=a.deadline,
                      kill_mean=a.kill_mean, out=a.out, quiet=a.quiet)
    summary = run(options)
    print(json.dumps(summary))
    _human(summary)
    return 0 if not summary["violations"] else 1


def _human(s: dict) -> None:
    rate = s["successRate"]
    shown = f"{rate['rate']:.2%}" if rate["rate"] is not None else "n/a"
    lines = [
        (f"chaos: {s['runs']} runs (seed {s['seed']}) in {s['wallSeconds']} s, "
         f"{len(s['violations'])} violation(s), "
         f"{rate['succeeded']}/{rate['nonCancelled']} non-cancelled runs Succeeded ({shown})"),
        f"  outcomes {s['outcomes']}",
        f"  faults fired {s['faultsFired']['total']} {s['faultsFired']['byKind']}",
        f"  kills {s['kills']}",
        f"  results {s['results']}",
    ]
    for f in s.get("failures", []):
        runs = ", ".join(str(r["id"]) for r in f["runs"][:5])
        runs += " ..." if len(f["runs"]) > 5 else ""
        lines.append(f"  FAILED x{f['count']} {f['code']} {f['kinds']} ({runs}): "
                     f"{f['message'][:200]}")
    for v in s["violations"][:20]:
        lines.append(f"  VIOLATION {v['invariant']} run {v['run']} ({v.get('kind')}): "
                     f"{json.dumps(v['evidence'])[:300]}")
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
