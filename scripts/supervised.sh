#!/bin/sh
# The fault-injection commands of a lab whose start script runs an eP-CSCF under scripts/supervise.sh
# (examples/pixit/reference-failover.toml, kamailio.toml):
#
#   supervised.sh restart     STATE_DIR NAME   [[ep_cscf]] restart (TP_WIMPU_BLK_007)
#   supervised.sh fail        STATE_DIR NAME   [[ep_cscf]] fail (TP_WIMPU_LIFE_003, LIFE_010)
#   supervised.sh start-again STATE_DIR NAME   [[ep_cscf]] start_again (TP_WIMPU_LIFE_010)
#
# restart and fail stop node NAME as a crash would: SIGKILL to its process and every child of it at
# once (Kamailio's workers), so nothing is de-registered or said goodbye to, its connections drop and
# what it kept in memory is lost. After restart its supervisor starts it again at once with the same
# arguments; after fail it stays down until start-again (its operator repairing it). restart and
# start-again exit 0 once the new process accepts connections on its address, 1 if it does not within
# 15 s; fail exits 0 once the supervisor has seen the node end (it empties the pid file while the node
# is down), so that a start-again right after it cannot be missed. A node that is not running, or
# that cannot be killed, is an error (exit 1) and leaves no marker behind.
set -eu
[ $# -eq 3 ] || { echo "usage: supervised.sh restart|fail|start-again STATE_DIR NAME" >&2; exit 2; }
action=$1
state=$2
name=$3
[ -e "$state/$name.pid" ] && [ -s "$state/$name.address" ] || {
  echo "supervised.sh: $state has no $name run by supervise.sh" >&2
  exit 1
}
old=$(cat "$state/$name.pid")
read -r host port < "$state/$name.address"
case $action in
  restart|fail)
    kill -0 "$old" 2>/dev/null || { echo "supervised.sh: $name (pid $old) is not running" >&2; exit 1; }
    # the marker first: the supervisor reads it when the node ends
    marker="$state/$name.$([ "$action" = restart ] && echo restart || echo down)"
    : > "$marker"
    # the children first: once their parent is gone they would be re-parented (one may have ended)
    kill -KILL $(pgrep -P "$old") 2>/dev/null || true
    # A node may end by itself once its children are killed (Kamailio's main process exits when a
    # worker dies) and be reaped by its supervisor before this kill: then it is gone, as wanted.
    if ! kill -KILL "$old" 2>/dev/null && kill -0 "$old" 2>/dev/null; then
      rm -f "$marker"   # a marker left behind would act on the node's next end
      echo "supervised.sh: could not kill $name (pid $old)" >&2
      exit 1
    fi
    if [ "$action" = fail ]; then
      # down once its supervisor has seen it end and emptied the pid file (then start-again may run)
      deadline=$(($(date +%s) + 15))
      while [ -s "$state/$name.pid" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || {
          echo "supervised.sh: $name's supervisor did not see it end within 15 s" >&2
          exit 1
        }
        sleep 0.05
      done
      exit 0
    fi
    ;;
  start-again)
    [ -e "$state/$name.down" ] && [ ! -s "$state/$name.pid" ] || {
      echo "supervised.sh: $name was not made to fail (fail)" >&2
      exit 1
    }
    rm -f "$state/$name.down"
    ;;
  *)
    echo "supervised.sh: unknown action $action (restart, fail, start-again)" >&2
    exit 2
    ;;
esac
deadline=$(($(date +%s) + 15))
while [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 0.1
  new=$(cat "$state/$name.pid")
  [ -n "$new" ] && [ "$new" != "$old" ] || continue
  if python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' \
      "$host" "$port" 2>/dev/null; then
    exit 0
  fi
done
echo "supervised.sh: $name ($host:$port) did not accept connections again within 15 s" >&2
exit 1
