#!/bin/sh
# Run one node of a lab under a supervisor, so that the PIXIT's [[ep_cscf]] restart
# (scripts/restart-supervised.sh; TP_WIMPU_BLK_007) can crash it and have it started again:
#
#   supervise.sh STATE_DIR NAME HOST PORT COMMAND [ARGS...]
#
# COMMAND runs in the background, its pid in STATE_DIR/NAME.pid, the address it accepts connections
# on in STATE_DIR/NAME.address ("HOST PORT"). When it ends, it is started again with the same
# arguments if restart-supervised.sh asked for it (STATE_DIR/NAME.restart, made before it kills the
# node); otherwise the supervisor exits with COMMAND's status. A lab's start script runs it in its
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
  [ -e "$state/$name.restart" ] || exit "$status"
  rm -f "$state/$name.restart"
done
