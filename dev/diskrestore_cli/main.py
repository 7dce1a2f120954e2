"""The `diskrestore` command line: plan, restore and follow, status, list, approve, reject,
cancel, drills. It talks to the app's HTTP API only (docs/cli.md)."""

from __future__ import annotations

import functools
import getpass
import json
import re
import sys
import time
import webbrowser
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from . import render
from .client import (
    DEFAULT_URL,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_STATE,
    Api,
    CliError,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="diskrestore", no_args_is_help=True, rich_markup_mode="rich", add_completion=False,
    help="Restore Azure managed disks from Azure Backup through the diskrestore app: plan, "
         "restore and follow, approve, cancel, drills.",
    epilog="[bold]Examples[/]\n\n"
           "  diskrestore plan --disk /subscriptions/…/disks/data0 --target-rg "
           "/subscriptions/…/resourceGroups/rg-restore\n\n"
           "  diskrestore restore --disk /subscriptions/…/disks/data0 --target-rg "
           "/subscriptions/…/resourceGroups/rg-restore "
           "--attach /subscriptions/…/virtualMachines/vm1"
           "\n\n  diskrestore list --status Running\n\n"
           "  diskrestore --url https://myapp.azurewebsites.net --function-key $KEY status "
           "restore-ticket-42 --watch\n\n"
           "The app is http://localhost:7071 (devhost) unless --url or DISKRESTORE_URL says "
           "otherwise. Exit codes: 0 done, 1 the restore or drill did not succeed, 2 bad input, "
           "3 not found or not possible now, 4 the app could not be reached or refused us, "
           "130 stopped following (the run goes on).")
drill_app = typer.Typer(no_args_is_help=True, rich_markup_mode="rich",
                        help="Restore drills: start a plan now, follow it, read its report.")
app.add_typer(drill_app, name="drill")


class State:
    api: Api = Api()
    interval: float = 2.0
    width: int | None = None  # --width; None: the terminal's (COLUMNS, else 80 off a terminal)


STATE = State()
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only (for scripts)")]
WidthOpt = Annotated[int | None, typer.Option(
    "--width", min=20, max=1000, help="fit the table to this many columns (default: the "
    "terminal's, or COLUMNS, or 80 when not a terminal)")]


@app.callback()
def main(
    url: Annotated[str, typer.Option(envvar="DISKRESTORE_URL", help="the app's base URL")]
    = DEFAULT_URL,
    function_key: Annotated[str | None, typer.Option(
        envvar="DISKRESTORE_FUNCTION_KEY", help="function key of the deployed app")] = None,
    entra_scope: Annotated[str | None, typer.Option(
        envvar="DISKRESTORE_ENTRA_SCOPE",
        help="with App Service authentication: send an Entra ID token for this scope "
             "(api://<app client id>/.default), from az login or the environment")] = None,
    poll_interval: Annotated[float, typer.Option(
        min=0.05, help="seconds between status reads while following")] = 2.0,
    width: WidthOpt = None,
) -> None:
    token = None
    if entra_scope:
        from .auth import token_provider
        token = token_provider(entra_scope)
    STATE.api = Api(base_url=url, function_key=function_key, token=token)
    STATE.interval = poll_interval
    STATE.width = width


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every failure as one line and a hint (or a JSON error with --json), and its exit code."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            fail(exc, as_json)
    return run


def fail(exc: CliError, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(exc.to_dict()))
    err.print(f"[bold red]error:[/] {_escape(exc.message)}")
    for item in exc.details:
        err.print(f"  {_escape(item.get('field') or '(body)')}: {_escape(item.get('message'))}")
    if exc.hint:
        err.print(f"[dim]hint: {_escape(exc.hint)}[/]")
    raise typer.Exit(exc.exit_code)


def _escape(text: Any) -> str:
    return escape(str(text))


# ---- the request ---------------------------------------------------------------------------------
Disk = Annotated[str | None, typer.Option("--disk", help="ARM id of the source disk (it may be "
                                          "deleted: the Backup vault still has it)")]
Instance = Annotated[str | None, typer.Option("--backup-instance",
                                              help="ARM id of the backup instance instead")]
TargetRg = Annotated[str | None, typer.Option("--target-rg",
                                              help="ARM id of the resource group to restore into")]
Name = Annotated[str | None, typer.Option("--name", help="name of the NEW disk "
                                          "(default: <source disk name>-restored)")]
Point = Annotated[str, typer.Option("--point", help='"latest" or a recovery point id')]
Before = Annotated[str | None, typer.Option("--before", help="the latest point before this "
                                            "time (ISO 8601, e.g. 2026-11-20T10:00:00Z)")]
Attach = Annotated[str | None, typer.Option("--attach", help="ARM id of a VM to attach the "
                                            "restored disk to")]
Lun = Annotated[int | None, typer.Option("--lun", min=0, max=63, help="LUN for --attach "
                                         "(default: the first free one)")]
Caching = Annotated[str | None, typer.Option("--caching", help="None, ReadOnly or ReadWrite "
                                             "for --attach")]
Replace = Annotated[str | None, typer.Option("--replace", help="ARM id of a VM whose data disk "
                                            "(the source disk) the restored disk replaces in "
                                            "place: same LUN and caching, the original kept")]
Vm = Annotated[str | None, typer.Option("--vm", help="ARM id of a VM: restore every protected "
                                        "disk of it from one point in time (with --target-rg, "
                                        "--before), then replace them on the VM in one go")]
Swap = Annotated[str | None, typer.Option("--swap", help="ARM id of a VM whose OS disk the "
                                          "restored disk replaces (the VM is stopped)")]
RequestId = Annotated[str | None, typer.Option("--request-id", help="idempotency key: the same "
                                               "key names the same run")]
File = Annotated[Path | None, typer.Option("--file", "-f", help="the request as JSON "
                                           "(docs/restore.md; - for stdin) instead of options")]


def build_request(*, disk: str | None, backup_instance: str | None, target_rg: str | None,
                  name: str | None, point: str, before: str | None, attach: str | None,
                  lun: int | None, caching: str | None, swap: str | None,
                  request_id: str | None, file: Path | None,
                  replace: str | None = None, vm: str | None = None) -> dict[str, Any]:
    """The API's request from the options (or the file); the app validates it fully."""
    if file is not None:
        given = [o for o, v in (("--disk", disk), ("--backup-instance", backup_instance),
                                ("--target-rg", target_rg), ("--attach", attach),
                                ("--replace", replace), ("--swap", swap), ("--vm", vm)) if v]
        return _request_from_file(file, request_id=request_id, given=given)
    if vm:
        return _vm_request(vm=vm, disk=disk, backup_instance=backup_instance, target_rg=target_rg,
                           name=name, point=point, before=before,
                           vm_change=[o for o, v in (("--attach", attach), ("--replace", replace),
                                                     ("--swap", swap), ("--lun", lun),
                                                     ("--caching", caching)) if v is not None],
                           request_id=request_id)
    missing = []
    if not (disk or backup_instance):
        missing.append("--disk (or --backup-instance)")
    if not target_rg:
        missing.append("--target-rg")
    if not name and not disk:
        missing.append("--name")
    if missing:
        raise CliError(f"missing {', '.join(missing)}", exit_code=EXIT_INPUT,
                       hint="diskrestore plan --help shows an example")
    chosen = [o for o, v in (("--attach", attach), ("--replace", replace), ("--swap", swap))
              if v]
    if len(chosen) > 1:
        raise CliError(f"{' and '.join(chosen)} cannot be combined: choose one",
                       exit_code=EXIT_INPUT, hint="attach adds a data disk; replace puts it in "
                                                  "the source disk's place; swap replaces the "
                                                  "OS disk")
    if (lun is not None or caching) and not attach:
        raise CliError("--lun and --caching need --attach", exit_code=EXIT_INPUT,
                       hint="name the VM with --attach (--replace takes the replaced disk's "
                            "LUN and caching)")
    if before and point != "latest":
        raise CliError("--before and --point cannot be combined", exit_code=EXIT_INPUT,
                       hint="--before picks the latest point before a time")
    body: dict[str, Any] = {
        "source": {"diskId": disk} if disk else {"backupInstanceId": backup_instance},
        "recoveryPoint": {"before": before} if before else
        "latest" if point.lower() == "latest" else {"id": point},
        "target": {"resourceGroupId": target_rg,
                   "diskName": name or f"{render.name(disk)}-restored"}}
    if request_id:
        body["requestId"] = request_id
    if attach:
        body["attach"] = {"vmId": attach, **({"lun": lun} if lun is not None else {}),
                          **({"caching": caching} if caching else {})}
    if replace:
        body["attach"] = {"vmId": replace, "mode": "replace"}
    if swap:
        body["swapOsDisk"] = {"vmId": swap}
    return body


def _vm_request(*, vm: str, disk: str | None, backup_instance: str | None, target_rg: str | None,
                name: str | None, point: str, before: str | None, vm_change: list[str],
                request_id: str | None) -> dict[str, Any]:
    """A whole-VM request: every protected disk of `vm`, replaced on it in one go."""
    clash = [o for o, v in (("--disk", disk), ("--backup-instance", backup_instance),
                            ("--name", name)) if v] + vm_change
    if clash:
        raise CliError(f"--vm cannot be combined with {', '.join(clash)}", exit_code=EXIT_INPUT,
                       hint="--vm restores every protected disk of the VM and replaces them on "
                            "it; restore one disk with --disk")
    if not target_rg:
        raise CliError("missing --target-rg", exit_code=EXIT_INPUT,
                       hint="diskrestore restore --help shows an example")
    if point != "latest":
        raise CliError("--point names one disk's recovery point: with --vm use --before",
                       exit_code=EXIT_INPUT, hint="each disk gets its newest point before it")
    body: dict[str, Any] = {"source": {"vmId": vm},
                            "recoveryPoint": {"before": before} if before else "latest",
                            "target": {"resourceGroupId": target_rg}, "apply": "replace"}
    if request_id:
        body["requestId"] = request_id
    return body


def _request_from_file(file: Path, *, request_id: str | None, given: list[str]) -> dict[str, Any]:
    """The request read from --file (- for stdin); `given` names the options it cannot be
    combined with that were given too."""
    if given:
        raise CliError(f"--file cannot be combined with {', '.join(given)}",
                       hint="put everything in the file, or use options only",
                       exit_code=EXIT_INPUT)
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the request from {file}: {exc}",
                       hint="the file holds the JSON of POST /api/restores (docs/restore.md)",
                       exit_code=EXIT_INPUT) from exc
    if not isinstance(body, dict):
        raise CliError(f"{file} does not hold a JSON object", exit_code=EXIT_INPUT,
                       hint="the file holds the JSON of POST /api/restores (docs/restore.md)")
    if request_id:
        body["requestId"] = request_id
    return body


def _action(body: dict[str, Any]) -> str | None:
    return "attach" if body.get("attach") else "swap" if body.get("swapOsDisk") else None


# ---- following a run -----------------------------------------------------------------------------
def follow(instance_id: str, *, fetch: Callable[[str], dict[str, Any]], as_json: bool,
           action: str | None = None, drill: bool = False) -> dict[str, Any]:
    """Read the run's status until it ends, showing its progress live on a terminal and as one
    line per phase change elsewhere. Ctrl-C stops following; the run goes on."""
    try:
        view = fetch(instance_id)
        if as_json:
            while not view["done"]:
                time.sleep(STATE.interval)
                view = fetch(instance_id)
            return view
        if err.is_terminal:
            with Live(render.progress(view, action=action, drill=drill), console=err,
                      refresh_per_second=8) as live:
                while not view["done"]:
                    time.sleep(STATE.interval)
                    view = fetch(instance_id)
                    live.update(render.progress(view, action=action, drill=drill))
            return view
        last = None
        while True:
            line = render.phase_line(view)
            if line != last:
                err.print(line)
                last = line
            if view["done"]:
                return view
            time.sleep(STATE.interval)
            view = fetch(instance_id)
    except KeyboardInterrupt:
        watch = f"diskrestore {'drill status' if drill else 'status'} {instance_id} --watch"
        err.print(f"\nstopped following {instance_id}; it goes on. Follow again: {watch}")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def finish(view: dict[str, Any], as_json: bool, show: Callable[[dict[str, Any]], None]) -> None:
    """Print the end of a run; exit 1 unless it succeeded."""
    if as_json:
        out.print_json(json.dumps(view))
    else:
        show(view)
    if view.get("outcome") not in render.GOOD:
        error = view.get("error") or {}
        code = error.get("code") or view.get("outcome") or view.get("runtimeStatus")
        if not as_json:
            err.print(f"[bold red]error:[/] {_escape(code)}: "
                      f"{_escape(error.get('message') or 'the run did not succeed')}")
            if error.get("hint"):
                err.print(f"[dim]hint: {_escape(error['hint'])}[/]")
        raise typer.Exit(EXIT_FAILED)


# ---- commands ------------------------------------------------------------------------------------
@app.command(epilog="[bold]Examples[/]\n\n"
             "  diskrestore plan --disk /subscriptions/S/resourceGroups/rg-app/providers/"
             "Microsoft.Compute/disks/data0 --target-rg /subscriptions/S/resourceGroups/"
             "rg-restore\n\n"
             "  diskrestore plan -f request.json --json")
@command
def plan(disk: Disk = None, backup_instance: Instance = None, target_rg: TargetRg = None,
         name: Name = None, point: Point = "latest", before: Before = None,
         attach: Attach = None, lun: Lun = None, caching: Caching = None, swap: Swap = None,
         request_id: RequestId = None, file: File = None, as_json: JsonOpt = False,
         replace: Replace = None, vm: Vm = None) -> None:
    """Dry run: resolve the backup, recovery point, target, roles and VM; change nothing."""
    body = build_request(disk=disk, backup_instance=backup_instance, target_rg=target_rg,
                         name=name, point=point, before=before, attach=attach, lun=lun,
                         caching=caching, swap=swap, request_id=request_id, file=file,
                         replace=replace, vm=vm)
    body["dryRun"] = True
    submitted = STATE.api.submit(body)
    view = follow(submitted["id"], fetch=STATE.api.restore, as_json=True)
    finish(view, as_json, lambda v: render.plan_table(out, v))


@app.command(epilog="[bold]Examples[/]\n\n"
             "  diskrestore restore --disk /subscriptions/S/resourceGroups/rg-app/providers/"
             "Microsoft.Compute/disks/data0 --target-rg /subscriptions/S/resourceGroups/rg-restore"
             " --attach /subscriptions/S/resourceGroups/rg-app/providers/Microsoft.Compute/"
             "virtualMachines/vm1 --lun 5\n\n"
             "  diskrestore restore -f request.json --request-id ticket-42 --no-wait\n\n"
             "  diskrestore restore --disk ID --target-rg RG --swap VM --yes   (replaces the OS "
             "disk)\n\nCtrl-C stops following; the restore goes on "
             "(diskrestore status ID --watch).")
@command
def restore(disk: Disk = None, backup_instance: Instance = None, target_rg: TargetRg = None,
            name: Name = None, point: Point = "latest", before: Before = None,
            attach: Attach = None, lun: Lun = None, caching: Caching = None, swap: Swap = None,
            request_id: RequestId = None, file: File = None,
            wait: Annotated[bool, typer.Option("--wait/--no-wait",
                                               help="follow the restore until it ends")] = True,
            yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask before an OS "
                                              "disk swap")] = False,
            as_json: JsonOpt = False, replace: Replace = None, vm: Vm = None) -> None:
    """Restore to a NEW disk; attach it, put it in the source disk's place, or swap it in as
    the OS disk; and follow each phase."""
    body = build_request(disk=disk, backup_instance=backup_instance, target_rg=target_rg,
                         name=name, point=point, before=before, attach=attach, lun=lun,
                         caching=caching, swap=swap, request_id=request_id, file=file,
                         replace=replace, vm=vm)
    changed = (body.get("swapOsDisk") or {}).get("vmId") or (
        (body.get("source") or {}).get("vmId") if body.get("apply", "replace") == "replace"
        else None)
    if changed and not yes:
        vm = render.name(changed)
        if as_json or not sys.stdin.isatty():
            raise CliError(f"swapping the OS disk of {vm} stops it: pass --yes to confirm",
                           exit_code=EXIT_INPUT, hint="run diskrestore plan first to see what "
                                                      "it will do")
        typer.confirm(f"This stops {vm} and replaces its OS disk. Continue?", abort=True)
    submitted = STATE.api.submit(body)
    instance_id = submitted["id"]
    if not as_json:
        source = body.get("source") or {}
        what = render.name(source.get("diskId") or source.get("vmId") or "the backup instance")
        again = "" if submitted.get("started") else " (already submitted: following that run)"
        err.print(f"restore [bold]{instance_id}[/]: {what} -> "
                  f"{render.name((body.get('target') or {}).get('resourceGroupId'))}/"
                  f"{(body.get('target') or {}).get('diskName') or '*'}{again}")
    if not wait:
        if as_json:
            out.print_json(json.dumps(submitted))
        else:
            out.print(instance_id)
        return
    view = follow(instance_id, fetch=STATE.api.restore, as_json=as_json, action=_action(body))
    finish(view, as_json, lambda v: render.result(out, v))


@app.command(epilog="[bold]Examples[/]\n\n  diskrestore status restore-ticket-42\n\n"
             "  diskrestore status restore-ticket-42 --watch\n\n"
             "  diskrestore status restore-ticket-42 --json | jq .phase")
@command
def status(instance_id: Annotated[str, typer.Argument(metavar="ID", help="the run's id")],
           watch: Annotated[bool, typer.Option("--watch", "-w", help="follow until it ends")]
           = False, as_json: JsonOpt = False) -> None:
    """Show a restore (or recovery run): its phase, progress, timings, result or error."""
    view = STATE.api.restore(instance_id)
    if watch and not view["done"]:
        view = follow(instance_id, fetch=STATE.api.restore, as_json=as_json)
    if not view["done"]:
        if as_json:
            out.print_json(json.dumps(view))
        else:
            out.print(render.progress(view))
        return
    def show(done: dict[str, Any]) -> None:
        out.print(render.progress(done))
        render.result(out, done)
    finish(view, as_json, show)


@app.command(name="list", epilog="[bold]Examples[/]\n\n  diskrestore list\n\n"
             "  diskrestore list --status Running,Pending --since 24h\n\n"
             "  diskrestore list --since 2026-11-01T00:00:00Z --top 200 --json")
@command
def list_runs(status: Annotated[str | None, typer.Option(
                  help="only these runtime statuses, comma-separated (Running, Pending, "
                       "Completed, Failed, Terminated, ...)")] = None,
              since: Annotated[str, typer.Option(help="created since: 30m, 24h, 7d or an ISO "
                                                 "8601 time")] = "7d",
              top: Annotated[int, typer.Option(min=1, max=500, help="at most this many, "
                                               "newest first")] = 50,
              as_json: JsonOpt = False, width: WidthOpt = None) -> None:
    """List restore and recovery runs, newest first."""
    listing = STATE.api.restores(status=status, since=_since(since), top=top)
    if as_json:
        out.print_json(json.dumps(listing))
    else:
        render.runs_table(out, listing, width or STATE.width)


def _since(text: str) -> str:
    match = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return (datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})).isoformat()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None:
        raise CliError(f"--since {text!r} is neither a span (30m, 24h, 7d) nor an ISO 8601 time",
                       exit_code=EXIT_INPUT, hint="e.g. --since 24h")
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


# ---- the catalog ---------------------------------------------------------------------------------
@app.command(epilog="[bold]Examples[/]\n\n  diskrestore disks\n\n"
             "  diskrestore disks --resource-group rg-app --tag env=prod --all\n\n"
             "  diskrestore disks --vm vm-app01 --json | jq '.value[].diskId'")
@command
def disks(resource_group: Annotated[str | None, typer.Option(
              "--resource-group", "-g", help="only this resource group (a name or an ARM id)")]
          = None,
          vm: Annotated[str | None, typer.Option(
              "--vm", help="only the disks of this VM (a name or an ARM id)")] = None,
          tag: Annotated[list[str] | None, typer.Option(
              "--tag", help="only disks with this tag, NAME=VALUE (repeat: all must match)")]
          = None,
          all_pages: Annotated[bool, typer.Option(
              "--all", help="every page, not only the first")] = False,
          top: Annotated[int | None, typer.Option(
              min=1, max=100, help="disks per page (the app's default: 50)")] = None,
          as_json: JsonOpt = False, width: WidthOpt = None) -> None:
    """The protected disks you may restore: newest recovery point, restores left today, the
    last drill's verdict and readiness."""
    for given in tag or []:
        if "=" not in given or not given.split("=", 1)[0].strip():
            raise CliError(f"--tag {given!r} is not NAME=VALUE", exit_code=EXIT_INPUT,
                           hint="e.g. --tag env=prod")
    page = STATE.api.disks(resource_group=resource_group, vm=vm, tags=tag, top=top)
    found = list(page.get("value") or [])
    while all_pages and page.get("nextLink"):
        page = STATE.api.next_page(str(page["nextLink"]))
        found += page.get("value") or []
    more = page.get("nextLink") if not all_pages else None
    if as_json:
        out.print_json(json.dumps({"value": found, "nextLink": more}))
        return
    if not found:
        out.print("no protected disks" + (" match" if resource_group or vm or tag else "") +
                  " (the app lists those its access policy lets you restore)")
        return
    render.disks_table(out, found, width or STATE.width)
    if more:
        out.print(f"({len(found)} shown; more on the next pages: use --all)", style="dim")


@app.command(epilog="[bold]Examples[/]\n\n  diskrestore points vm-app01-data0\n\n"
             "  diskrestore points rg-app/vm-app01-data0\n\n"
             "  diskrestore points /subscriptions/S/resourceGroups/rg-app/providers/"
             "Microsoft.Compute/disks/vm-app01-data0 --json\n\n"
             "Restore one with: diskrestore restore --disk DISK_ID --point ID ...")
@command
def points(disk: Annotated[str, typer.Argument(
               metavar="DISK", help="a disk's ARM id, RG/NAME, or its name alone")],
           as_json: JsonOpt = False, width: WidthOpt = None) -> None:
    """A protected disk's recovery points, newest first: time, tier, and whether each can be
    restored now (and if not, why)."""
    subscription, group, disk_name = resolve_disk(disk)
    answer = STATE.api.recovery_points(subscription, group, disk_name)
    if as_json:
        out.print_json(json.dumps(answer))
    else:
        render.points_table(out, answer, width or STATE.width)


DISK_ID = re.compile(r"/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
                     r"Microsoft\.Compute/disks/([^/]+)/?", re.IGNORECASE)


def resolve_disk(given: str) -> tuple[str, str, str]:
    """(subscription id, resource group, disk name) of DISK: an ARM id as it is; RG/NAME or a
    name looked up in the catalog (GET /api/disks), which must name exactly one disk."""
    text = given.strip()
    if text.startswith("/"):
        match = DISK_ID.fullmatch(text)
        if not match:
            raise CliError(f"{given!r} is not a managed disk's ARM id (/subscriptions/S/"
                           "resourceGroups/RG/providers/Microsoft.Compute/disks/NAME)",
                           exit_code=EXIT_INPUT, hint="or give RG/NAME, or the disk's name")
        return match.group(1), match.group(2), match.group(3)
    parts = text.split("/")
    if len(parts) > 2 or not all(parts):
        raise CliError(f"{given!r} is neither a disk's ARM id, RG/NAME, nor a name",
                       exit_code=EXIT_INPUT, hint="diskrestore disks lists the protected disks")
    group, disk_name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    page = STATE.api.disks(resource_group=group, top=100)
    found = list(page.get("value") or [])
    while page.get("nextLink"):
        page = STATE.api.next_page(str(page["nextLink"]))
        found += page.get("value") or []
    # Azure's names are case-insensitive: data0 and DATA0 are the same disk
    matches = [d for d in found if str(d.get("name", "")).lower() == disk_name.lower()
               and (group is None or str(d.get("resourceGroup", "")).lower() == group.lower())]
    if not matches:
        raise CliError(f"no protected disk {given!r} that you may restore", exit_code=EXIT_STATE,
                       hint="diskrestore disks lists them")
    if len(matches) > 1:
        where = ", ".join(sorted(f"{d.get('resourceGroup')}/{d.get('name')}"
                                 + (f" (subscription {d.get('subscriptionId')})"
                                    if len({m.get('subscriptionId') for m in matches}) > 1
                                    else "") for d in matches))
        raise CliError(f"{given!r} names {len(matches)} protected disks: {where}",
                       exit_code=EXIT_INPUT, hint="give RG/NAME or the disk's ARM id")
    chosen = matches[0]
    return str(chosen["subscriptionId"]), str(chosen["resourceGroup"]), str(chosen["name"])


Approver = Annotated[str | None, typer.Option(
    envvar="DISKRESTORE_APPROVER", help="who decides, recorded as unauthenticated when the app "
    "has no sign-in (default: your login name); with App Service authentication the signed-in "
    "caller is recorded instead")]
Comment = Annotated[str | None, typer.Option(help="why, kept with the decision")]


@app.command(epilog="[bold]Examples[/]\n\n"
             "  diskrestore approve recover-os-swap-1a2b-20261124T101500"
             ' --comment "checked with the app owner"')
@command
def approve(instance_id: Annotated[str, typer.Argument(metavar="ID")],
            approver: Approver = None, comment: Comment = None, as_json: JsonOpt = False) -> None:
    """Approve the attach or swap a restore is waiting for."""
    _decide(instance_id, True, approver, comment, as_json)


@app.command(epilog="[bold]Examples[/]\n\n  diskrestore reject restore-ticket-42 "
             '--comment "wrong point in time"')
@command
def reject(instance_id: Annotated[str, typer.Argument(metavar="ID")],
           approver: Approver = None, comment: Comment = None, as_json: JsonOpt = False) -> None:
    """Reject the attach or swap a restore is waiting for: the restored disk is deleted."""
    _decide(instance_id, False, approver, comment, as_json)


def _decide(instance_id: str, approved: bool, approver: str | None, comment: str | None,
            as_json: bool) -> None:
    answer = STATE.api.decide(instance_id, approve=approved,
                              approver=approver or getpass.getuser(), comment=comment)
    if as_json:
        out.print_json(json.dumps(answer))
        return
    out.print(f"{answer['decision']} by {answer['by']}"
              f"{'' if answer.get('authenticated') else ' (unauthenticated)'}: "
              f"{', '.join(answer.get('appliedTo') or [])}")


@app.command(epilog="[bold]Examples[/]\n\n  diskrestore undo restore-ticket-42\n\n"
             "  diskrestore undo restorevm-inc-4711 --reason 'the restored data is too old'")
@command
def undo(instance_id: Annotated[str, typer.Argument(metavar="ID")],
         reason: Annotated[str | None, typer.Option("--reason", help="why (kept in the audit "
                                                    "trail)")] = None,
         wait: Annotated[bool, typer.Option("--wait/--no-wait")] = True,
         as_json: JsonOpt = False) -> None:
    """Put back on the VM the disks a restore took off it (replaced in place, swapped out)."""
    submitted = STATE.api.undo(instance_id, reason)
    undo_id = submitted["id"]
    if not wait:
        out.print_json(json.dumps(submitted)) if as_json else out.print(undo_id)
        return
    if not as_json:
        err.print(f"undo [bold]{undo_id}[/] of {instance_id}")
    view = follow(undo_id, fetch=STATE.api.restore, as_json=as_json)
    finish(view, as_json, lambda v: render.result(out, v))


@app.command(epilog="[bold]Examples[/]\n\n  diskrestore cancel restore-ticket-42")
@command
def cancel(instance_id: Annotated[str, typer.Argument(metavar="ID")],
           as_json: JsonOpt = False) -> None:
    """Cancel a restore: it stops at its next wait, revokes its roles and ends Cancelled."""
    answer = STATE.api.cancel(instance_id)
    if as_json:
        out.print_json(json.dumps(answer))
        return
    out.print(f"cancel requested for {', '.join(answer.get('appliedTo') or [instance_id])}; "
              f"follow with: diskrestore status {instance_id} --watch")


# ---- drills --------------------------------------------------------------------------------------
@drill_app.command(name="start", epilog="[bold]Examples[/]\n\n  diskrestore drill start "
                   "nightly-sample\n\n  diskrestore drill start nightly-sample --no-wait --json")
@command
def drill_start(plan_name: Annotated[str, typer.Argument(metavar="PLAN", help="a plan's name "
                                                         "in the app's drill plans")],
                wait: Annotated[bool, typer.Option("--wait/--no-wait")] = True,
                as_json: JsonOpt = False) -> None:
    """Run a drill plan now: restore, verify and clean up each disk it selects; report."""
    submitted = STATE.api.start_drill(plan_name)
    drill_id = submitted["id"]
    if not wait:
        out.print_json(json.dumps(submitted)) if as_json else out.print(drill_id)
        return
    if not as_json:
        err.print(f"drill [bold]{drill_id}[/]" + ("" if submitted.get("started") else
                                                   " (already running: following it)"))
    view = follow(drill_id, fetch=STATE.api.drill, as_json=as_json, drill=True)
    _drill_end(view, as_json)


@drill_app.command(name="status", epilog="[bold]Examples[/]\n\n  diskrestore drill status "
                   "drill-nightly-sample-20261124T020000 --watch")
@command
def drill_status(drill_id: Annotated[str, typer.Argument(metavar="ID")],
                 watch: Annotated[bool, typer.Option("--watch", "-w")] = False,
                 as_json: JsonOpt = False) -> None:
    """Show a drill's progress, or its summary once it has ended."""
    view = STATE.api.drill(drill_id)
    if watch and not view["done"]:
        view = follow(drill_id, fetch=STATE.api.drill, as_json=as_json, drill=True)
    if not view["done"]:
        out.print_json(json.dumps(view)) if as_json else out.print(render.progress(view,
                                                                                   drill=True))
        return
    _drill_end(view, as_json)


def _drill_end(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(view))
    else:
        summary = view.get("summary") or {}
        out.print(f"drill {view['id']}: {view.get('runtimeStatus')}, "
                  f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, "
                  f"{summary.get('skipped', 0)} skipped. Report: diskrestore drill report "
                  f"{view['id']}")
    failed = (view.get("summary") or {}).get("failed") or view.get("error") or \
        view.get("runtimeStatus") != "Completed"
    if failed:
        raise typer.Exit(EXIT_FAILED)


@drill_app.command(name="report", epilog="[bold]Examples[/]\n\n  diskrestore drill report "
                   "drill-nightly-sample-20261124T020000\n\n  diskrestore drill report "
                   "drill-nightly-sample-20261124T020000 --open\n\n"
                   "  diskrestore drill report ID --json | jq .summary.successRate")
@command
def drill_report(drill_id: Annotated[str, typer.Argument(metavar="ID")],
                 open_: Annotated[bool, typer.Option("--open", help="save the HTML report and "
                                                     "open it in a browser")] = False,
                 output: Annotated[Path | None, typer.Option(
                     "--output", "-o", help="where to save the HTML report (with --open; "
                     "default: a file in the temp directory)")] = None,
                 as_json: JsonOpt = False, width: WidthOpt = None) -> None:
    """A finished drill's report: every disk's verdict and recovery time."""
    report = STATE.api.drill_report(drill_id, "json")
    if as_json:
        out.print_json(json.dumps(report))
    else:
        render.drill_report(out, report, width or STATE.width)
    if open_:
        import tempfile
        page = STATE.api.drill_report(drill_id, "html")
        path = output or Path(tempfile.gettempdir()) / f"{drill_id}.html"
        path.write_bytes(page)
        opened = webbrowser.open(path.resolve().as_uri())
        (err if as_json else out).print(f"report saved to {path}" + (
            "" if opened else " (no browser found: open it yourself)"))


def run(argv: list[str] | None = None) -> int:
    """The console script."""
    try:
        code = app(args=argv, prog_name="diskrestore", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        err.print("aborted")
        return EXIT_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # click's usage errors
        show = getattr(exc, "show", None)
        if callable(show):
            show()
            return int(getattr(exc, "exit_code", EXIT_INPUT))
        raise
    return code if isinstance(code, int) else 0
