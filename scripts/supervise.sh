#!/bin/sh
# Run one node of a lab under a supervisor, so that the PIXIT's fault-injection commands
# (scripts/supervised.sh: [[ep_cscf]] restart, fail, start_again; TP_WIMPU_BLK_007, LIFE_003,
# LIFE_010) can crash it and have it started again:
#
#   supervise.sh STATE_DIR NAME HOST PORT COMMAND [ARGS...]
#
# COMMAND runs in the background, its pid in STATE_DIR/NAME.pid, the address it accepts connections
# on in STATE_DIR/NAME.address ("HOST PORT"). When it ends, it is started again with the same
# arguments at once if `supervised.sh restart` asked for it (STATE_DIR/NAME.restart, made before it
# kills the node), or once STATE_DIR/NAME.down is gone if `supervised.sh fail` made it (removed by
# `supervised.sh start-again`); otherwise the supervisor exits with COMMAND's status. A lab's start script runs it in its
# own process group, so the suite's SIGTERM to that group stops the supervisor and the node together.
set -eu
[ $# -ge 5 ] || { echo "usage: supervise.sh STATE_DIR NAME HOST PORT COMMAND [ARGS...]" >&2; exit 2; }
state=$1
name=$2
echo "$3 $4" > "$state/$name.address"
shift 4
while :; do
  "$@" &
  echo $! > "$state/$name.pid"
  status=0
  wait $! || status=$?
  if [ -e "$state/$name.restart" ]; then
    rm -f "$state/$name.restart"
  elif [ -e "$state/$name.down" ]; then
    : > "$state/$name.pid"   # down: supervised.sh fail waits for this, start-again needs it
    while [ -e "$state/$name.down" ]; do sleep 0.1; done
  else
    exit "$status"
  fi
done
