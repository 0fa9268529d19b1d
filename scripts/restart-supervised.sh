#!/bin/sh
# The [[ep_cscf]] restart command of a lab whose start script runs the eP-CSCF under
# scripts/supervise.sh (examples/pixit/kamailio.toml, reference-failover.toml; TP_WIMPU_BLK_007,
# 5.2.2.5.1 option 1: a restarted eP-CSCF initialises anew):
#
#   restart-supervised.sh STATE_DIR NAME
#
# Node NAME stops as a crash would: SIGKILL to its process and every child of it at once (Kamailio's
# workers), so nothing is de-registered or said goodbye to, its connections drop and what it kept in
# memory is lost. Its supervisor then starts it again with the same arguments. Exits 0 once the new
# process accepts connections on its address, 1 if it does not within 15 s.
set -eu
[ $# -eq 2 ] || { echo "usage: restart-supervised.sh STATE_DIR NAME" >&2; exit 2; }
state=$1
name=$2
[ -s "$state/$name.pid" ] && [ -s "$state/$name.address" ] || {
  echo "restart-supervised.sh: $state has no $name run by supervise.sh" >&2
  exit 1
}
old=$(cat "$state/$name.pid")
read -r host port < "$state/$name.address"
: > "$state/$name.restart"
# the children first in the list: once their parent is gone they would be re-parented
kill -KILL $(pgrep -P "$old") "$old"
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
echo "restart-supervised.sh: $name ($host:$port) did not accept connections again within 15 s" >&2
exit 1
