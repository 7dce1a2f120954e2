#!/usr/bin/env bash
# Terminal captures of the `diskrestore` CLI in an 80x40 tmux pane (docs/cli.md), against
# `python -m demo --serve` (azsim + Azurite + the app under devhost) started in a tmux session
# of its own:
#   docs/cli-capture.txt  `diskrestore restore` following a restore-and-attach, a frame every 2 s
#   docs/cli-80cols.txt   `diskrestore list`, `diskrestore disks`, `diskrestore points DISK`,
#                         after a drill of the demo's plan (DRILL_PLAN) and a readiness run, so
#                         that the DRILL and READY columns show real verdicts
# Panes are captured with -J (wrapped lines joined): a line the CLI printed wider than the pane
# shows whole, and tests/cli/test_capture.py fails on any line over 80 columns.
# Needs tmux, curl and `make venv azurite`. CAPTURE="restore tables" (default) picks the parts;
# TABLES="list disks points" the table commands.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-7181}
CAPTURE=${CAPTURE:-restore tables}
TABLES=${TABLES:-list disks points}
DRILL_PLAN=${DRILL_PLAN:-demo-nightly}  # dev/demo/drill-plans.json
SUB=/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups
export AZURITE_BIN=$PWD/.tools/node_modules/.bin/azurite
# A tmux server of our own (-L): other sessions on this machine are never touched.
SOCKET=dr-capture-$$
LOG=$(mktemp /tmp/dr-serve.XXXXXX.log)
tm() { tmux -L "$SOCKET" "$@"; }
trap 'tm kill-server 2>/dev/null || true; rm -f "$LOG"' EXIT
tm new-session -d -s serve -x 200 -y 40 \
  ".venv/bin/python -m demo --serve --port $PORT 2>&1 | tee $LOG"
for _ in $(seq 240); do grep -q "The app is at" "$LOG" 2>/dev/null && break; sleep 0.5; done
grep -q "The app is at" "$LOG" || { echo "the app did not start"; cat "$LOG"; exit 1; }

tm new-session -d -s cli -x 80 -y 40
tm send-keys -t cli "export PATH=$PWD/.venv/bin:\$PATH DISKRESTORE_URL=http://127.0.0.1:$PORT PS1='$ '" Enter
tm send-keys -t cli "D=$SUB/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0 D1=$SUB/rg-app/providers/Microsoft.Compute/disks/vm-app01-data1 A=$SUB/rg-app T=$SUB/rg-restore-target V=$SUB/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01; clear" Enter
sleep 0.5

pane() { tm capture-pane -p -J -t cli | sed -e 's/[[:space:]]*$//'; }
prompt_back() { [ "$(pane | sed -e '/^$/d' | tail -1)" = '$' ]; }
wait_prompt() {
  for _ in $(seq "${1:-600}"); do sleep 0.5; prompt_back && return 0; done
  echo "the command did not finish:"; pane; exit 1
}
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }

if [[ " $CAPTURE " == *" restore "* ]]; then
  OUT=docs/cli-capture.txt
  tm send-keys -t cli 'diskrestore --poll-interval 0.5 restore --disk $D --target-rg $T --attach $V' Enter
  {
    echo "# diskrestore restore in an 80x40 tmux pane, a frame every 2 s"
    echo "# ($(stamp); Azure time / 30; made by dev/tools/cli-capture.sh)"
    for i in $(seq 1 90); do
      sleep 2
      echo
      echo "---- frame $i (t = $((i * 2)) s) ----"
      pane | sed -e '/^$/d'
      prompt_back && break
    done
  } > "$OUT"
  tm send-keys -t cli 'echo "exit code $?"' Enter
  sleep 0.5
  pane | grep -q "^exit code 0" || { echo "the restore did not succeed: see $OUT"; pane; exit 1; }
  echo "exit code 0" >> "$OUT"
  echo "wrote $OUT ($(grep -c '^---- frame' "$OUT") frames)"
fi

if [[ " $CAPTURE " == *" tables "* ]]; then
  OUT=docs/cli-80cols.txt
  # something to list: a restore that fails (its target disk exists) and a dry run
  tm send-keys -t cli 'clear; diskrestore restore --disk $D1 --target-rg $A --name vm-app01-data0; diskrestore plan --disk $D1 --target-rg $T; clear' Enter
  wait_prompt
  # Something for DRILL and READY: a drill of the demo's plan, then a readiness run (after the
  # drill, so that it counts the drill's restores). Neither is captured; each must succeed.
  export DISKRESTORE_URL=http://127.0.0.1:$PORT
  DRILL_LOG=$(mktemp /tmp/dr-drill.XXXXXX.log)
  .venv/bin/diskrestore --poll-interval 0.5 drill start "$DRILL_PLAN" > "$DRILL_LOG" 2>&1 || {
    echo "diskrestore drill start $DRILL_PLAN failed:"; cat "$DRILL_LOG"; rm -f "$DRILL_LOG"
    exit 1; }
  echo "drill: $(tail -n 1 "$DRILL_LOG")"
  rm -f "$DRILL_LOG"
  curl -fsS -X POST "$DISKRESTORE_URL/api/readiness" > /dev/null
  ready=
  for _ in $(seq 600); do  # GET answers 404 until the run has written its report
    code=$(curl -s -o /dev/null -w '%{http_code}' "$DISKRESTORE_URL/api/readiness")
    [ "$code" = 200 ] && { ready=1; break; }
    sleep 0.5
  done
  [ -n "$ready" ] || { echo "no readiness report after 300 s (GET /api/readiness: $code)"; exit 1; }
  echo "readiness: $(curl -fsS "$DISKRESTORE_URL/api/readiness" | .venv/bin/python -c \
    'import json, sys; r = json.load(sys.stdin); print(r["status"], r["summary"])')"
  {
    echo "# diskrestore list, disks and points, 80x40 tmux pane ($(stamp))."
    echo "# Made by dev/tools/cli-capture.sh against python -m demo --serve, after a"
    echo "# drill of $DRILL_PLAN and a readiness run; captured with -J: a line wider"
    echo "# than the pane would show whole here, and tests/cli/test_capture.py would fail."
  } > "$OUT"
  failed=0
  for table in $TABLES; do
    case $table in
      list) command="diskrestore list" ;;
      disks) command="diskrestore disks" ;;
      points) command="diskrestore points vm-app01-data0" ;;
      *) echo "unknown table $table (list, disks, points)"; exit 2 ;;
    esac
    tm send-keys -t cli "clear; $command; echo \"exit \$?\"" Enter
    wait_prompt
    # `clear` wiped the command line: say it again
    printf '\n$ %s\n' "$command" >> "$OUT"
    pane | sed -e '/^$/d' | sed -e '$ {/^\$$/d}' >> "$OUT"
    pane | grep -q "^exit 0$" || { echo "$command failed:"; pane; failed=1; }
  done
  echo "wrote $OUT ($TABLES)"
  exit $failed
fi
