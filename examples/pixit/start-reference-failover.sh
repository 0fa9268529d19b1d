#!/bin/sh
# The [sut] start command of reference-failover.toml: the reference stack with failover on
# (failover-stack.toml), ep-cscf1 in an operating-system process of its own so that the PIXIT's
# fault-injection command (`[[ep_cscf]] fail`) can kill it alone, as a crash would; every other
# node in a second process. A fresh state directory each time (test PKI, registrar database).
# Both processes stay in this script's process group: the suite stops them together.
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
up registrar,wwsf,i-cscf,s-cscf,ep-cscf2 "$@" &
others=$!
up ep-cscf1 "$@" &
echo $! > "$state/ep-cscf1.pid"
wait "$others"     # its status is the script's: a node that cannot start fails the start
