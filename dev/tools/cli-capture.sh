#!/usr/bin/env bash
# A terminal capture of `diskrestore restore` following a restore-and-attach (docs/cli.md):
# `make serve` in one tmux session, the CLI in another, a frame of its screen every 2 seconds
# into docs/cli-capture.txt. Needs tmux and `make venv azurite` done.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-7181}
OUT=${OUT:-docs/cli-capture.txt}
SUB=/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups
export AZURITE_BIN=$PWD/.tools/node_modules/.bin/azurite
tmux kill-session -t dr-serve 2>/dev/null || true
tmux kill-session -t dr-cli 2>/dev/null || true
tmux new-session -d -s dr-serve -x 200 -y 40 \
  ".venv/bin/python -m demo --serve --port $PORT 2>&1 | tee /tmp/dr-serve.log"
trap 'tmux kill-session -t dr-serve 2>/dev/null || true; tmux kill-session -t dr-cli 2>/dev/null || true' EXIT
for _ in $(seq 120); do grep -q "The app is at" /tmp/dr-serve.log 2>/dev/null && break; sleep 0.5; done
grep -q "The app is at" /tmp/dr-serve.log || { echo "the app did not start"; cat /tmp/dr-serve.log; exit 1; }
tmux new-session -d -s dr-cli -x 110 -y 24
tmux send-keys -t dr-cli "clear; export DISKRESTORE_URL=http://127.0.0.1:$PORT PS1='$ '" Enter
tmux send-keys -t dr-cli "D=$SUB/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0 T=$SUB/rg-restore-target V=$SUB/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01; clear" Enter
sleep 0.5
tmux send-keys -t dr-cli '.venv/bin/diskrestore --poll-interval 0.5 restore --disk $D --target-rg $T --attach $V --lun 5; echo "exit code $?"' Enter
{
  echo "# diskrestore restore, captured from tmux every 2 s ($(date -u +%Y-%m-%dT%H:%M:%SZ); Azure time / 30)"
  for i in $(seq 1 60); do
    sleep 2
    echo
    echo "---- frame $i (t = $((i * 2)) s) ----"
    tmux capture-pane -p -t dr-cli | sed -e 's/[[:space:]]*$//' | sed -e '/^$/d'
    tmux capture-pane -p -t dr-cli | grep -q "^exit code" && break
  done
} > "$OUT"
grep -q "^exit code 0" "$OUT" || { echo "the restore did not succeed: see $OUT"; exit 1; }
echo "wrote $OUT ($(grep -c '^---- frame' "$OUT") frames)"
