#!/bin/sh
# The [[ep_cscf]] restart command of a supervised lab node (TP_WIMPU_BLK_007): `supervised.sh restart`.
#   restart-supervised.sh STATE_DIR NAME
exec sh "$(dirname "$0")/supervised.sh" restart "$@"
