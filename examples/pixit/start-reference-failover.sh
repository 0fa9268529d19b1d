#!/bin/sh
# The [sut] start command of reference-failover.toml: the reference stack with failover on
# (failover-stack.toml), ep-cscf1 in an operating-system process of its own so that the PIXIT's
# fault-injection commands (../../scripts/supervised.sh) can crash it alone: `[[ep_cscf]] fail` kills it
# and ../../scripts/supervise.sh keeps it down (TP_WIMPU_LIFE_003) until `[[ep_cscf]] start_again`
# (TP_WIMPU_LIFE_010); `[[ep_cscf]] restart` kills it and has the supervisor start it again at once
# (TP_WIMPU_BLK_007). Every other node in a second process. A fresh state directory
# each time (test PKI, registrar database). Every process stays in this script's process group: the
# suite stops them together.
#   start-reference-failover.sh STATE_DIR [ARGS...]
# STATE_DIR is made afresh (relative to this folder: the PIXIT's paths name it too); further
# arguments go to both `wimpu-ref up` (a test run gives `--host <its own loopback address>`).
set -eu
cd "$(dirname "$0")"
state=${1:?"usage: start-reference-failover.sh STATE_DIR [ARGS...]"}
shift
export PYTHONPATH="../..${PYTHONPATH:+:$PYTHONPATH}"   # the reference of this tree, installed or not
rm -rf "$state"
mkdir -p "$state"
up() {  # run in a background subshell: exec, so that $! is the node's own process
    nodes=$1
    shift
    exec python3 -m reference.cli up --config failover-stack.toml --state-dir "$state" \
        --clock-offset-file "$state/clock-offset" --nodes "$nodes" "$@"
}
host=127.0.0.1   # failover-stack.toml's, unless the arguments give --host
previous=
for arg in "$@"; do
    [ "$previous" = --host ] && host=$arg
    previous=$arg
done
up registrar,wwsf,i-cscf,s-cscf,ep-cscf2 "$@" &
others=$!
# ep-cscf1's WSS port (failover-stack.toml), the last it binds (after its SIP port), is where
# supervised.sh sees it accept again: a WIC can connect once it does
sh ../../scripts/supervise.sh "$state" ep-cscf1 "$host" 7443 \
    python3 -m reference.cli up --config failover-stack.toml --state-dir "$state" \
    --clock-offset-file "$state/clock-offset" --nodes ep-cscf1 "$@" &
wait "$others"     # its status is the script's: a node that cannot start fails the start
