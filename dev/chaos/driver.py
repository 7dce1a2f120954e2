"""The chaos driver: plans every run and environment from one seed, then runs the batches.

Per environment (one azsim + Azurite + devhost): workers (all `concurrency` of them, or a few)
each take the next run, pick a free slot (its own VM; every slot restores into the one shared
target group, see scenario.py), send the request (sometimes twice, at once or later), follow
GET /api/restores/{id} until it is done or its deadline passes, and record what it saw.
Meanwhile azsim injects the environment's fault mix on every operation (ARM's and Azure Backup's
transient answers), and a killer SIGKILLs devhost at random moments (sometimes arming the next
start to kill itself at a random commit point). When every run of the batch has ended, the
invariants (invariants.py) are checked against azsim's audit log and state and the app's ledger.
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

from domain.restore.planning import DISK_RESTORE_OPERATOR, READER

from . import invariants
from .environment import Environment
from .scenario import Slot

KINDS = ("restore", "attach", "swap")
KILL_POINTS = ("episode", "activity", "activity-before-commit")
HOT_OPERATIONS = ("Microsoft.Authorization/roleAssignments/*",
                  "Microsoft.Compute/virtualMachines/*",
                  "Microsoft.DataProtection/backupVaults/backupInstances/*",
                  "Microsoft.Compute/disks/*", "Microsoft.Compute/snapshots/*",
                  "Microsoft.DataProtection/*/read")


@dataclass
class Options:
    runs: int = 300
    seed: int = 1
    concurrency: int = 10
    runs_per_env: int = 50
    time_scale: float = 200.0
    poll_scale: float = 200.0
    # Seconds from submission to done, per run. The app's durable backoffs are real time (30 s
    # doubling, not scaled like Azure's durations): three transient answers in a row cost a run
    # 210 s, and the budgets set in environment.py allow a propagation wait of 3 min and a job
    # wait of 5 min. Far above the slowest run seen (244 s in 300), far below a stuck run.
    deadline: float = 600.0
    kill_mean: float | None = None  # mean seconds between SIGKILLs; None: drawn per env
    kill_at_chance: float | None = None  # chance a restart dies at a commit point; None: drawn
    out: Path = Path(".chaos")
    quiet: bool = False


# ---- the plan ---------------------------------------------------------------------------------
BI_ACTIONS = "Microsoft.DataProtection/backupVaults/backupInstances/*"  # validateRestore, restore
JOB_END = "Microsoft.DataProtection/backupVaults/backupJobs/restore"  # azsim's jobFailure hook
# The transient answers of Azure Backup a restore must ride out (issue 20 part 4), each injected
# where a validation or a restore trigger ends (lroFailure) and where a restore job ends
# (jobFailure): (code, message, isRetryable).
BACKUP_TRANSIENTS: tuple[tuple[str, str, bool | None], ...] = (
    # azure-cli-extensions #3795: on validate-for-restore, for an AzureDisk restore
    ("CloudServiceRetryableError",
     "A transient error occurred. Please retry the operation after some time.", None),
    # documented (Azure Disk Backup troubleshooting)
    ("UserErrorMaxConcurrentOperationLimitReached",
     "Unable to start the operation as maximum number of allowed concurrent backups has "
     "reached.", None),
    # any code the service marks isRetryable (UserFacingError.isRetryable)
    ("CloudInternalError", "The service encountered an internal error.", True),
    # Data Protection throttling; its code is not documented: one of the names the app knows
    ("TooManyRequests", "The request was throttled by Data Protection. Please retry after "
     "some time.", None),
)
RESTORED_DISK_ZONES = ("regional", "source")
FEW_WORKERS = 2  # runs at a time in a "few" environment


def plan_env(rng: random.Random, index: int = 0) -> dict[str, Any]:
    """An environment's fault mix, kill schedule, azsim's restored-disk zone mode (the
    environments take turns: regional, source, regional, ...) and how many runs at a time."""
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
    faults[:0] = plan_backup_faults(rng)
    faults.append({"kind": "latency", "seconds": rng.choice([0.05, 0.2, 0.5]),
                   "rate": rng.choice([0.02, 0.05, 0.1])})
    return {"faults": faults, "killMean": rng.choice([6.0, 10.0, 20.0]),
            "killAtChance": rng.choice([0.0, 0.3, 0.6]), "seed": rng.randrange(1 << 30),
            "restoredDiskZone": RESTORED_DISK_ZONES[index % len(RESTORED_DISK_ZONES)],
            # Of the `concurrency` slots, how many runs at a time: all of them keep the shared
            # leases held for the whole environment; a few (every third environment, so both
            # zone modes get one in six) let the holders fall to none between runs, so
            # generations turn over while others take the lease (the revoke race).
            "busy": "few" if index % 3 == 2 else "all"}


def plan_backup_faults(rng: random.Random) -> list[dict[str, Any]]:
    """Every transient Backup error of BACKUP_TRANSIENTS where a validation or a restore trigger
    ends and where a restore job ends, and Data Protection's own 429 on its POSTs (validate,
    restore) and on the reads that follow them (operation status, jobs): with a Retry-After the
    SDK sleeps through, or one it does not (gateway/factory.py ActivityRetry: over 20 s the
    activity fails at once and the orchestration backs off)."""
    at_end = rng.choice([0.05, 0.1, 0.15])  # of validations and triggers
    job_end = rng.choice([0.08, 0.12, 0.2])  # of restore jobs
    faults: list[dict[str, Any]] = []
    for code, message, retryable in BACKUP_TRANSIENTS:
        extra = {} if retryable is None else {"isRetryable": retryable}
        faults.append({"kind": "lroFailure", "operation": BI_ACTIONS, "code": code,
                       "message": message, "rate": round(at_end / len(BACKUP_TRANSIENTS), 4),
                       **extra})
        faults.append({"kind": "jobFailure", "operation": JOB_END, "code": code,
                       "message": message, "rate": round(job_end / len(BACKUP_TRANSIENTS), 4),
                       **extra})
    throttled = rng.choice([0.02, 0.05, 0.1])
    for operation in (BI_ACTIONS, "Microsoft.DataProtection/*/read"):
        faults.append({"kind": "status", "status": 429, "operation": operation,
                       "code": rng.choice(["SubscriptionRequestsThrottled", "TooManyRequests"]),
                       "retryAfter": rng.choice([1, 30]), "rate": throttled})
    return faults


def plan_run(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choices(KINDS, weights=[0.3, 0.4, 0.3])[0]
    dup = rng.choices(["none", "concurrent", "later"], weights=[0.7, 0.15, 0.15])[0]
    return {"run": index, "kind": kind, "dup": dup, "dupDelay": round(rng.uniform(0.2, 8), 2),
            "cancel": rng.random() < 0.05, "cancelDelay": round(rng.uniform(0.5, 8), 2),
            "caching": rng.choice(["None", "ReadOnly"]),
            "pause": round(rng.uniform(0, 3), 2)}  # before it starts, in a "few" environment


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
        few = min(FEW_WORKERS, options.concurrency)
        self.workers = few if batch.profile.get("busy") == "few" else options.concurrency

    def run(self) -> Batch:
        batch, o = self.batch, self.o
        started = time.monotonic()
        with Environment(batch.index, batch.profile["seed"], o.concurrency, o.time_scale,
                         o.poll_scale, self.workdir,
                         batch.profile.get("restoredDiskZone", "regional")) as env:
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
                       for i in range(self.workers)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            self._done.set()
            killer.join()
            env.sim.clear_faults()
            snapshot, audit = env.sim.snapshot(), env.sim.audit()
            fired = env.sim.fired_faults()
            try:
                leases: list[dict[str, Any]] | None = env.leases()
            except Exception as exc:  # noqa: BLE001 - evidence only: the checks go on without
                self.log(f"env {batch.index}: could not read the ledger's leases: {exc!r}")
                leases = None
            with gzip.open(self.workdir / "azsim.json.gz", "wt", encoding="utf-8") as f:
                json.dump({"snapshot": snapshot, "audit": audit, "fired": fired,
                           "leases": leases}, f)
            batch.violations = invariants.check_all(batch.records, snapshot, audit,
                                                    env.sim.app_principal_id,
                                                    vault_principal_id=env.vault_principal_id,
                                                    leases=leases)
            host = env.host
            batch.stats = {
                "kills": host.kills, "commitPointKills": host.self_kills,
                "restarts": host.restarts, "hostCrashes": host.crashes,
                "killPointsArmed": host.kill_points,
                "faultsFired": dict(Counter(_fault_name(f, batch.profile["faults"])
                                            for f in fired)),
                "restoredDiskZone": batch.profile.get("restoredDiskZone", "regional"),
                "workers": self.workers,
                "assignmentsMade": invariants.assignments_made(snapshot,
                                                               env.sim.app_principal_id),
                "restoreJobsPerBackupInstance": invariants.restore_jobs_per_instance(snapshot),
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
            if self.workers < self.o.concurrency:  # let the shared leases' holders fall to none
                time.sleep(spec.get("pause", 0))
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
        # The shared assignments the run needs for the vault's identity while its restore runs
        # (scope, role): every run leases the one Disk Restore Operator on the shared target
        # group; a CMK data disk's restore also the one Reader on the shared DES.
        grants = [{"scope": slot.target_rg, "role": DISK_RESTORE_OPERATOR}]
        if spec["kind"] != "swap" and slot.des_id:
            grants.append({"scope": slot.des_id, "role": READER})
        return {**spec, "env": self.batch.index, "slot": slot.index, "requestId": request_id,
                "id": instance, "sourceDiskId": source,
                "targetDiskId": slot.target_disk_id(name),
                "vmId": slot.vm_id if spec["kind"] != "restore" else None,
                "vmZone": slot.zone if spec["kind"] != "restore" else None,
                "restoredDiskZone": self.batch.profile.get("restoredDiskZone", "regional"),
                "grants": grants, "deadline": self.o.deadline,
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
    """`status:429`, `lostAnswer:500`, `lroFailure:CloudServiceRetryableError`, `reset`, ...;
    a Data Protection fault says so (`dp:`)."""
    kind = fired.get("kind")
    index = int(str(fired.get("faultId", "fault-0")).rsplit("-", 1)[-1]) - 1
    fault = profile[index] if 0 <= index < len(profile) else {}
    where = "dp:" if str(fault.get("operation", "")).startswith("Microsoft.DataProtection") \
        else ""
    if kind in ("lroFailure", "jobFailure"):
        return f"{where}{kind}:{fault.get('code')}"
    if kind in ("status", "lostAnswer"):
        status = fault.get("status")
        return f"{where}{kind}:{status}" if status else f"{where}{kind}"
    return f"{where}{kind}"


# ---- all of it ----------------------------------------------------------------------------------
def run(o: Options) -> dict[str, Any]:
    rng = random.Random(o.seed)
    specs = [plan_run(rng, i) for i in range(o.runs)]
    batches = [Batch(i, plan_env(rng, i), specs[start:start + o.runs_per_env])
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


def recheck(outdir: Path) -> dict[str, Any]:
    """The summary of a finished chaos run (`.chaos/<time>-seed<S>/`) with its invariants checked
    again, from what it saved (every run's record in results.json; each environment's azsim state,
    audit log and lease rows in azsim.json.gz): the checkers are pure functions of those, so a
    fixed or new checker can judge a run without running it again. Writes rechecked.json."""
    import azsim

    saved = json.loads((outdir / "results.json").read_text())
    principals = azsim.load_scenario("demo")["principals"]
    batches = []
    for env in saved["environments"]:
        with gzip.open(outdir / f"env-{env['index']}" / "azsim.json.gz", "rt",
                       encoding="utf-8") as f:
            state = json.load(f)
        batch = Batch(env["index"], env["profile"], [], records=env["runs"], stats=env["stats"])
        batch.violations = invariants.check_all(
            batch.records, state["snapshot"], state["audit"], principals["app"]["id"],
            vault_principal_id=principals["vault"]["id"], leases=state.get("leases"))
        batches.append(batch)
    first = saved["summary"]
    options = Options(runs=first["requested"], seed=first["seed"],
                      concurrency=first["concurrency"], time_scale=first["timeScale"],
                      poll_scale=first["pollScale"])
    summary = summarize(options, batches, first["wallSeconds"], outdir)
    (outdir / "rechecked.json").write_text(json.dumps(summary, indent=1))
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
        "failures": failure_reasons(accepted),
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
        "zones": {
            "restoredDiskZone": {b.index: b.profile.get("restoredDiskZone") for b in batches},
            "zonalRuns": sum(1 for r in accepted if r.get("vmZone")),
            "zoneCopies": sum(1 for r in accepted
                              if ((r.get("view") or {}).get("result") or {}).get("zoneCopy"))},
        "restoreJobsPerBackupInstance": {
            "max": max((b.stats.get("restoreJobsPerBackupInstance", {}).get("max", 0)
                        for b in batches), default=0),
            "over10": sum(b.stats.get("restoreJobsPerBackupInstance", {}).get("over10", 0)
                          for b in batches)},
        "sharedAssignmentsMade": sum(b.stats.get("assignmentsMade", 0) for b in batches),
        "environments": len(batches), "concurrency": o.concurrency,
        "workers": {b.index: b.stats.get("workers") for b in batches},
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


def failure_reasons(accepted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that did not succeed (and were not cancelled), grouped by their error code, most
    frequent first: how many, of which kinds, which runs (instance ids, for results.json and
    devhost.log), and the first message of each group."""
    groups: dict[str, dict[str, Any]] = {}
    for r in accepted:
        view = r.get("view") or {}
        outcome = view.get("outcome") or ("NotDone" if not r.get("done") else None)
        if outcome in ("Succeeded", "Cancelled"):
            continue
        error = view.get("error") or {}
        code = error.get("code") or outcome or "-"
        group = groups.setdefault(code, {"code": code, "count": 0, "outcomes": Counter(),
                                         "kinds": Counter(), "runs": [],
                                         "message": str(error.get("message") or "")[:400],
                                         "hint": error.get("hint")})
        group["count"] += 1
        group["outcomes"][str(outcome)] += 1
        group["kinds"][r["kind"]] += 1
        group["runs"].append({"run": r.get("run"), "env": r.get("env"), "id": r.get("id"),
                              "phase": view.get("phase")})
    return [{**g, "outcomes": dict(g["outcomes"]), "kinds": dict(g["kinds"])}
            for g in sorted(groups.values(), key=lambda g: -g["count"])]


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {"p50": pick(0.5), "p90": pick(0.9), "max": ordered[-1]}
