"""The chaos driver: plans every run and environment from one seed, then runs the batches.

Per environment (one azsim + Azurite + devhost): `concurrency` workers each take the next run,
pick a free slot (its own VM and target resource group, see scenario.py), send the request
(sometimes twice, at once or later), follow GET /api/restores/{id} until it is done or its
deadline passes, and record what it saw. Meanwhile azsim injects the environment's fault mix on
every operation, and a killer SIGKILLs devhost at random moments (sometimes arming the next
start to kill itself at a random commit point). When every run of the batch has ended, the
invariants (invariants.py) are checked against azsim's audit log and state.
"""

from __future__ import annotations

import gzip
import json
import queue
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from domain.restore.planning import DISK_RESTORE_OPERATOR, READER, assignment_name

from . import invariants
from .environment import Environment
from .scenario import Slot

KINDS = ("restore", "attach", "swap")
KILL_POINTS = ("episode", "activity", "activity-before-commit")
HOT_OPERATIONS = ("Microsoft.Authorization/roleAssignments/*",
                  "Microsoft.Compute/virtualMachines/*",
                  "Microsoft.DataProtection/backupVaults/backupInstances/*",
                  "Microsoft.Compute/disks/*", "Microsoft.DataProtection/*/read")


@dataclass
class Options:
    runs: int = 300
    seed: int = 1
    concurrency: int = 10
    runs_per_env: int = 50
    time_scale: float = 200.0
    poll_scale: float = 200.0
    deadline: float = 300.0  # seconds from submission to done, per run
    kill_mean: float | None = None  # mean seconds between SIGKILLs; None: drawn per env
    kill_at_chance: float | None = None  # chance a restart dies at a commit point; None: drawn
    out: Path = Path(".chaos")
    quiet: bool = False


# ---- the plan ---------------------------------------------------------------------------------
def plan_env(rng: random.Random) -> dict[str, Any]:
    """An environment's fault mix and kill schedule."""
    error_rate = rng.choice([0.02, 0.05, 0.08, 0.12, 0.2, 0.3])
    kinds = rng.sample(["429", "500", "503", "reset", "lostAnswer"], k=rng.randint(2, 5))
    faults: list[dict[str, Any]] = []
    for kind in kinds:
        rate = round(error_rate / len(kinds), 4)
        if kind == "429":
            faults.append({"kind": "status", "status": 429, "rate": rate,
                           "retryAfter": rng.choice([0, 0.2, 0.5, 1])})
        elif kind in ("500", "503"):
            faults.append({"kind": "status", "status": int(kind), "rate": rate})
        elif kind == "reset":
            faults.append({"kind": "reset", "rate": rate})
        else:
            faults.append({"kind": "lostAnswer", "status": rng.choice([500, 503]), "rate": rate})
    if rng.random() < 0.5:  # one operation family much hotter than the rest
        kind = rng.choice(["status", "reset", "lostAnswer"])
        hot: dict[str, Any] = {"kind": kind, "operation": rng.choice(HOT_OPERATIONS),
                               "rate": rng.choice([0.2, 0.35, 0.5])}
        if kind != "reset":
            hot["status"] = rng.choice([429, 500, 503]) if kind == "status" else 500
            if hot["status"] == 429:
                hot["retryAfter"] = rng.choice([0, 0.5])
        faults.insert(0, hot)
    faults.append({"kind": "latency", "seconds": rng.choice([0.05, 0.2, 0.5]),
                   "rate": rng.choice([0.02, 0.05, 0.1])})
    return {"faults": faults, "killMean": rng.choice([6.0, 10.0, 20.0]),
            "killAtChance": rng.choice([0.0, 0.3, 0.6]), "seed": rng.randrange(1 << 30)}


def plan_run(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choices(KINDS, weights=[0.3, 0.4, 0.3])[0]
    dup = rng.choices(["none", "concurrent", "later"], weights=[0.7, 0.15, 0.15])[0]
    return {"run": index, "kind": kind, "dup": dup, "dupDelay": round(rng.uniform(0.2, 8), 2),
            "cancel": rng.random() < 0.05, "cancelDelay": round(rng.uniform(0.5, 8), 2),
            "caching": rng.choice(["None", "ReadOnly"])}


def kill_point(rng: random.Random) -> str:
    return f"{rng.choice(KILL_POINTS)}:{rng.randint(1, 40)}"


# ---- the API, across kills ----------------------------------------------------------------------
class Api:
    """The app's HTTP API; calls are retried while the host is down or answers 5xx."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "s"):
            self._local.s = requests.Session()
        return self._local.s

    def call(self, method: str, path: str, body: Any = None, *, until: float,
             on_answer: Any = None) -> requests.Response | None:
        """The first answer below 500 (every answer goes to `on_answer`), or None at `until`."""
        while time.monotonic() < until:
            try:
                answer = self._session().request(method, self.base + path, json=body,
                                                 timeout=30)
            except requests.RequestException:
                self._local.__dict__.pop("s", None)
                time.sleep(0.2)
                continue
            if on_answer is not None:
                on_answer(answer)
            if answer.status_code < 500:
                return answer
            time.sleep(0.2)
        return None


# ---- one environment ----------------------------------------------------------------------------
@dataclass
class Batch:
    index: int
    profile: dict[str, Any]
    runs: list[dict[str, Any]]
    records: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)


class EnvRunner:
    def __init__(self, options: Options, batch: Batch, workdir: Path, log: Any) -> None:
        self.o, self.batch, self.workdir, self.log = options, batch, workdir, log
        self.rng = random.Random(batch.profile["seed"])
        self._free: queue.Queue[Slot] = queue.Queue()
        self._todo: queue.Queue[dict[str, Any]] = queue.Queue()
        self._done = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> Batch:
        batch, o = self.batch, self.o
        started = time.monotonic()
        with Environment(batch.index, batch.profile["seed"], o.concurrency, o.time_scale,
                         o.poll_scale, self.workdir) as env:
            self.env, self.api = env, Api(env.host.base)
            for fault in batch.profile["faults"]:
                env.sim.add_fault(**fault)
            for slot in env.slots:
                self._free.put(slot)
            for spec in batch.runs:
                self._todo.put(spec)
            killer = threading.Thread(target=self._killer, daemon=True, name="chaos-killer")
            killer.start()
            workers = [threading.Thread(target=self._worker, daemon=True, name=f"chaos-{i}")
                       for i in range(o.concurrency)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            self._done.set()
            killer.join()
            env.sim.clear_faults()
            snapshot, audit = env.sim.snapshot(), env.sim.audit()
            fired = env.sim.fired_faults()
            with gzip.open(self.workdir / "azsim.json.gz", "wt", encoding="utf-8") as f:
                json.dump({"snapshot": snapshot, "audit": audit, "fired": fired}, f)
            batch.violations = invariants.check_all(batch.records, snapshot, audit,
                                                    env.sim.app_principal_id)
            host = env.host
            batch.stats = {
                "kills": host.kills, "commitPointKills": host.self_kills,
                "restarts": host.restarts, "hostCrashes": host.crashes,
                "killPointsArmed": host.kill_points,
                "faultsFired": dict(Counter(_fault_name(f, batch.profile["faults"])
                                            for f in fired)),
                "armRequests": len(audit), "seconds": round(time.monotonic() - started, 1)}
        return batch

    # ---- the killer ---------------------------------------------------------------------------
    def _killer(self) -> None:
        mean = self.o.kill_mean or self.batch.profile["killMean"]
        while not self._done.wait(max(1.0, self.rng.expovariate(1 / mean))):
            chance = self.o.kill_at_chance if self.o.kill_at_chance is not None else \
                self.batch.profile["killAtChance"]
            then = kill_point(self.rng) if self.rng.random() < chance else None
            if self.env.host.kill(then):
                self.log(f"env {self.batch.index}: SIGKILL devhost"
                         + (f" (next start dies at {then})" if then else ""))

    # ---- the runs -----------------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            try:
                spec = self._todo.get_nowait()
            except queue.Empty:
                return
            slot = self._free.get()
            try:
                record = self._one(spec, slot)
            except Exception as exc:  # noqa: BLE001 - a driver bug must not hide the others
                record = {**self._base_record(spec, slot), "driverError": repr(exc)}
            finally:
                self._free.put(slot)
            with self._lock:
                self.batch.records.append(record)
            view = record.get("view") or {}
            self.log(f"run {spec['run']:>4} {spec['kind']:<7} slot {slot.index} "
                     f"{'accepted' if record.get('accepted') else 'NOT ACCEPTED'} "
                     f"-> {view.get('outcome')} "
                     f"{(view.get('error') or {}).get('code') or ''} "
                     f"({record.get('seconds')} s)")

    def _base_record(self, spec: dict[str, Any], slot: Slot) -> dict[str, Any]:
        request_id = f"chaos-{self.o.seed}-{spec['run']}"
        name = f"r{spec['run']}-{spec['kind']}"
        source = slot.os_disk_id if spec["kind"] == "swap" else slot.data_disk_id
        instance = f"restore-{request_id}"
        names = [assignment_name(instance, slot.target_rg, DISK_RESTORE_OPERATOR)]
        if spec["kind"] != "swap" and slot.des_id:
            names.append(assignment_name(instance, slot.des_id, READER))
        return {**spec, "env": self.batch.index, "slot": slot.index, "requestId": request_id,
                "id": instance, "sourceDiskId": source,
                "targetDiskId": slot.target_disk_id(name),
                "vmId": slot.vm_id if spec["kind"] != "restore" else None,
                "assignmentNames": names, "deadline": self.o.deadline,
                "accepted": False, "done": False, "answers": []}

    def _one(self, spec: dict[str, Any], slot: Slot) -> dict[str, Any]:
        rec = self._base_record(spec, slot)
        body: dict[str, Any] = {
            "requestId": rec["requestId"], "source": {"diskId": rec["sourceDiskId"]},
            "recoveryPoint": "latest",
            "target": {"resourceGroupId": slot.target_rg,
                       "diskName": rec["targetDiskId"].rsplit("/", 1)[-1]}}
        if spec["kind"] == "attach":
            body["attach"] = {"vmId": slot.vm_id, "caching": spec["caching"]}
        elif spec["kind"] == "swap":
            body["swapOsDisk"] = {"vmId": slot.vm_id}
        rec["body"] = body
        rec["vmBefore"] = invariants.vm_summary(self.env.resource(slot.vm_id))
        rec["acceptedAt"] = self.env.sim.clock.time()
        started = time.monotonic()
        until = started + self.o.deadline

        def answered(label: str) -> Any:
            def note(answer: requests.Response) -> None:
                try:
                    doc = answer.json()
                except ValueError:
                    doc = {}
                with self._lock:
                    rec["answers"].append({"send": label, "status": answer.status_code,
                                           "started": doc.get("started"),
                                           "at": round(time.monotonic() - started, 2)})
            return note

        if spec["dup"] == "concurrent":
            twin = threading.Thread(target=self.api.call, args=("POST", "/api/restores", body),
                                    kwargs={"until": until, "on_answer": answered("twin")},
                                    daemon=True)
            twin.start()
        answer = self.api.call("POST", "/api/restores", body, until=until,
                               on_answer=answered("first"))
        if answer is None or answer.status_code not in (200, 202):
            rec["refused"] = None if answer is None else answer.text[:500]
            rec["seconds"] = round(time.monotonic() - started, 1)
            return rec
        rec["accepted"] = True
        rec["id"] = answer.json()["id"]
        dup_at = started + spec["dupDelay"] if spec["dup"] == "later" else None
        cancel_at = started + spec["cancelDelay"] if spec["cancel"] else None
        created: set[str] = set()
        while time.monotonic() < until:
            now = time.monotonic()
            if dup_at is not None and now >= dup_at:
                dup_at = None
                self.api.call("POST", "/api/restores", body, until=until,
                              on_answer=answered("later"))
            if cancel_at is not None and now >= cancel_at:
                cancel_at = None
                got = self.api.call("POST", f"/api/restores/{rec['id']}/cancel", until=until)
                rec["cancelAnswer"] = got.status_code if got is not None else None
            got = self.api.call("GET", f"/api/restores/{rec['id']}", until=until)
            if got is not None and got.status_code in (200, 202):
                view = got.json()
                rec["view"] = view
                if view.get("createdTime"):
                    created.add(view["createdTime"])
                if view.get("done"):
                    rec["done"] = True
                    break
            time.sleep(0.5)
        rec["doneAt"] = self.env.sim.clock.time() if rec["done"] else None
        rec["createdTimes"] = sorted(created)
        if rec["vmId"]:
            rec["vmAfter"] = invariants.vm_summary(self.env.resource(slot.vm_id))
        rec["seconds"] = round(time.monotonic() - started, 1)
        return rec


def _fault_name(fired: dict[str, Any], profile: list[dict[str, Any]]) -> str:
    kind = fired.get("kind")
    if kind in ("status", "lostAnswer"):
        index = int(str(fired.get("faultId", "fault-0")).rsplit("-", 1)[-1]) - 1
        status = profile[index].get("status") if 0 <= index < len(profile) else None
        return f"{kind}:{status}" if status else str(kind)
    return str(kind)


# ---- all of it ----------------------------------------------------------------------------------
def run(o: Options) -> dict[str, Any]:
    rng = random.Random(o.seed)
    specs = [plan_run(rng, i) for i in range(o.runs)]
    batches = [Batch(i, plan_env(rng), specs[start:start + o.runs_per_env])
               for i, start in enumerate(range(0, o.runs, o.runs_per_env))]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = o.out / f"{stamp}-seed{o.seed}"
    outdir.mkdir(parents=True, exist_ok=True)
    log_file = (outdir / "runs.log").open("a", encoding="utf-8")
    log_lock = threading.Lock()

    def log(text: str, *, always: bool = False) -> None:
        line = f"[chaos {time.strftime('%H:%M:%S')}] {text}"
        with log_lock:
            log_file.write(line + "\n")
            log_file.flush()
            if always or not o.quiet:
                print(line, file=sys.stderr, flush=True)

    started = time.monotonic()
    for batch in batches:
        log(f"env {batch.index}: {len(batch.runs)} runs, faults {json.dumps(batch.profile)}",
            always=True)
        EnvRunner(o, batch, outdir / f"env-{batch.index}", log).run()
        log(f"env {batch.index}: done in {batch.stats['seconds']} s, "
            f"{len(batch.violations)} violation(s), stats {json.dumps(batch.stats)[:400]}",
            always=True)
    summary = summarize(o, batches, time.monotonic() - started, outdir)
    (outdir / "results.json").write_text(json.dumps(
        {"summary": summary, "environments": [
            {"index": b.index, "profile": b.profile, "stats": b.stats, "runs": b.records}
            for b in batches]}, indent=1, default=str))
    (outdir / "summary.json").write_text(json.dumps(summary, indent=1))
    latest = o.out / "latest.json"
    latest.write_text(json.dumps(summary, indent=1))
    log_file.close()
    return summary


def summarize(o: Options, batches: list[Batch], wall: float, outdir: Path) -> dict[str, Any]:
    records = [r for b in batches for r in b.records]
    accepted = [r for r in records if r.get("accepted")]
    outcomes = Counter(((r.get("view") or {}).get("outcome") or
                        ("NotDone" if not r.get("done") else "None")) for r in accepted)
    errors = Counter((((r.get("view") or {}).get("error") or {}).get("code") or "-")
                     for r in accepted if (r.get("view") or {}).get("outcome") != "Succeeded")
    fired: Counter[str] = Counter()
    for b in batches:
        fired.update(b.stats.get("faultsFired", {}))
    answers = Counter(f"{a['send']}:{a['status']}:{'started' if a['started'] else 'existing'}"
                      for r in records for a in r.get("answers", []))
    violations = [v for b in batches for v in b.violations]
    # What kept a run from being checked at all is a finding too, never a silent pass.
    for r in records:
        if r.get("driverError") or not r.get("accepted"):
            violations.append(invariants.violation(
                r, "0-harness", problem="the driver failed" if r.get("driverError")
                else "the request was never accepted", driverError=r.get("driverError"),
                refused=r.get("refused"), answers=r.get("answers")))
    for b in batches:
        for code in b.stats.get("hostCrashes", []):
            violations.append(invariants.violation(None, "0-harness", env=b.index,
                                                   problem=f"devhost exited with {code}"))
    return {
        "runs": len(accepted), "requested": len(records), "seed": o.seed,
        "wallSeconds": round(wall, 1),
        "violations": violations,
        "successRate": success_rate(accepted),
        "outcomes": dict(outcomes), "errorCodes": dict(errors),
        "kinds": dict(Counter(r["kind"] for r in accepted)),
        "faultsFired": {"total": sum(fired.values()), "byKind": dict(fired)},
        "kills": {"sigkill": sum(b.stats.get("kills", 0) for b in batches),
                  "commitPoint": sum(b.stats.get("commitPointKills", 0) for b in batches),
                  "restarts": sum(b.stats.get("restarts", 0) for b in batches)},
        "hostCrashes": [c for b in batches for c in b.stats.get("hostCrashes", [])],
        "submissions": dict(answers),
        "duplicates": dict(Counter(r["dup"] for r in records)),
        "cancelsSent": sum(1 for r in records if "cancelAnswer" in r),
        "environments": len(batches), "concurrency": o.concurrency,
        "timeScale": o.time_scale, "pollScale": o.poll_scale,
        "runSeconds": _quantiles([r["seconds"] for r in accepted if r.get("seconds")]),
        "results": str(outdir),
    }


def success_rate(accepted: list[dict[str, Any]]) -> dict[str, Any]:
    """Of the accepted runs a cancel did not end (a cancel that came too late does not count),
    how many Succeeded: transient failures must not fail a restore (issue 20 asks for 99 %). A
    run that never finished counts as not succeeded."""
    outcomes = [(r.get("view") or {}).get("outcome") for r in accepted]
    considered = [o for o in outcomes if o != "Cancelled"]
    succeeded = sum(1 for o in considered if o == "Succeeded")
    return {"nonCancelled": len(considered), "succeeded": succeeded,
            "rate": round(succeeded / len(considered), 4) if considered else None}


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {"p50": pick(0.5), "p90": pick(0.9), "max": ordered[-1]}
