#!/bin/sh
# Start the Kamailio eP-CSCF SUT (examples/pixit/kamailio.toml, [sut] start): the suite's reference
# WWSF and wIMPU Registrar (python3 -m reference.cli up, with interop/kamailio/stack.toml, one process
# each), then two Kamailio instances with interop/kamailio/kamailio.cfg, one eP-CSCF each (5.2.2.1:
# each block is associated with a different eP-CSCF): ep-cscf2 (block2, identity option B; standing
# by for block1) in the background, ep-cscf1 (block1, option A; standing by for block2) in the
# foreground, their logs on stderr. Each serves a block while it holds the block's lease in the
# registrar (5.2.2.2; the lease timings are stack.toml's [failover]).
# Each instance runs under ../../scripts/supervise.sh, which starts it again, with the same arguments,
# after the PIXIT's [[ep_cscf]] restart (TP_WIMPU_BLK_007). The start script exits when ep-cscf1's
# supervisor does. The suite stops them all with SIGTERM to the process group.
#
#   start.sh [--block-registration 1|2] STATE_DIR BLOCK1_PASSWORD BLOCK2_PASSWORD [HOST]
#
# KAM_SHM_MB and KAM_PKG_MB (environment), when set, are each instance's shared and private memory in
# MB (kamailio -m, -M); unset, Kamailio's defaults (64 and 8), enough for the suite's scenarios. The
# registration benchmark (bench/register_rate.py --kamailio-ep) sets 256 and 16 for 1,000 WebSockets.
#
# STATE_DIR is made afresh (test PKI, registrar database, Kamailio's runtime files). BLOCKn_PASSWORD
# is the lab's password of blockn at the suite's emulated S-CSCF/HSS (the PIXIT's [[block]]).
# --block-registration is the block registration option of both blocks (5.2.2.5.1): 1 (the default),
# each block registered once its eP-CSCF holds the block's lease; 2, registered upon the first WIC
# registration for it (examples/pixit/kamailio-option2.toml). The PIXIT's [[block]] registration
# must say the same.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
registration=1
if [ "${1:-}" = "--block-registration" ]; then
  [ $# -ge 2 ] || { echo "start.sh: --block-registration needs 1 or 2" >&2; exit 2; }
  registration=$2
  shift 2
fi
case $registration in
  1|2) ;;
  *) echo "start.sh: --block-registration must be 1 or 2 (5.2.2.5.1), not '$registration'" >&2; exit 2 ;;
esac
[ $# -ge 3 ] || { echo "usage: start.sh [--block-registration 1|2] STATE_DIR BLOCK1_PASSWORD BLOCK2_PASSWORD [HOST]" >&2; exit 2; }
state=$1
password1=$2
password2=$3
host=${4:-127.0.0.1}
s_cscf_port=5070
ims_domain=ims.example.net

command -v kamailio >/dev/null || { echo "start.sh: kamailio is not installed (scripts/install.sh)" >&2; exit 1; }
memory=""
for setting in KAM_SHM_MB KAM_PKG_MB; do
  eval "value=\${$setting:-}"
  case $value in
    "") ;;
    *[!0-9]*|0) echo "start.sh: $setting must be a whole number of MB, not '$value'" >&2; exit 2 ;;
    *) if [ "$setting" = KAM_SHM_MB ]; then memory="$memory -m $value"; else memory="$memory -M $value"; fi ;;
  esac
done
faketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -r "$faketime" ] || { echo "start.sh: libfaketime is not installed (scripts/install.sh: faketime)" >&2; exit 1; }
rm -rf "$state"
mkdir -p -m 700 "$state/secrets" "$state/kamailio/db" "$state/kamailio2/db"
state=$(cd "$state" && pwd)
printf '+0.000000\n' > "$state/clock-offset"   # the tester's clock: no jump yet (reference/clock.py)
umask 077
printf %s "$password1" > "$state/secrets/block.block1.password"
printf %s "$password2" > "$state/secrets/block.block2.password"

# The reference WWSF and registrar; they issue the test PKI (pki/ep-cscf.pem is the WSS server
# certificate for HOST, pki/client.ep-cscf1.pem the eP-CSCF's W6 client certificate).
# The suite's own checkout first on the path: the lab runs the reference of this tree, installed or not.
# Two processes sharing the state directory: the registrar alone in one, so that the PIXIT's
# [registrar] stall and resume (kill -STOP / -CONT of registrar.pid; TP_WIMPU_REG_013) stop nothing else.
for node in registrar wwsf; do
  PYTHONPATH="$here/../..${PYTHONPATH:+:$PYTHONPATH}" python3 -m reference.cli up --config "$here/stack.toml" \
    --nodes "$node" --host "$host" --state-dir "$state" --clock-offset-file "$state/clock-offset" &
  echo $! > "$state/$node.pid"
done
for _ in $(seq 100); do
  [ -s "$state/pki/client.ep-cscf1.key" ] && [ -s "$state/pki/client.ep-cscf2.key" ] && [ -s "$state/pki/ep-cscf.key" ] && break
  sleep 0.2
done

# The block registrations (5.2.2.5.1), uac_reg records in a dbtext table of each instance: each
# block's distinct IMPU sip:<block>@wrtc.<ims domain>, IMPI <block>@<ims domain>, through the S-CSCF.
# Both blocks in each instance, disabled (flags 1): kamailio.cfg enables a block's record while the
# instance holds the block's lease, at once (option 1: route[LEASES]) or upon the first WIC
# registration for the block (option 2: route[REGISTER_BLOCK_FIRST]).
#   uacreg DIR
uacreg() {
  printf 'table_name(string) table_version(int)\nuacreg:5\n' > "$1/version"
  {
    echo "id(int,auto) l_uuid(string) l_username(string) l_domain(string) r_username(string) r_domain(string) realm(string) auth_username(string) auth_password(string) auth_ha1(string,null) auth_proxy(string) expires(int) flags(int) reg_delay(int) contact_addr(string,null) socket(string,null)"
    echo "1:block1:block1:wrtc.$ims_domain:block1:wrtc.$ims_domain:$ims_domain:block1@$ims_domain:$password1::sip\\:$host\\:$s_cscf_port;transport=tcp:600:1:0::"
    echo "2:block2:block2:wrtc.$ims_domain:block2:wrtc.$ims_domain:$ims_domain:block2@$ims_domain:$password2::sip\\:$host\\:$s_cscf_port;transport=tcp:600:1:0::"
  } > "$1/uacreg"
}
uacreg "$state/kamailio/db"
uacreg "$state/kamailio2/db"

# The lease timings of stack.toml's [failover], which the registrar's leases and the WWSF follow.
eval "$(python3 - "$here/stack.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as handle:
    failover = tomllib.load(handle)["failover"]
print(f"lease_duration={failover['lease_duration']} lease_renew={failover['renew_interval']}")
PY
)"
# The blocks an instance serves while it holds their leases (KAM_BLOCKS of epcscf.py): block1 of
# identity option A, block2 of option B, both of the block registration option above; ROLE1 and
# ROLE2 are the instance's role for each (primary: it claims the lease at once; standby: once it has
# seen the lease lapse).
#   blocks ROLE1 ROLE2
blocks() {
  printf '[{"name": "block1", "wimpu": "sip:wrtc-!.*!@block1.%s", "option": "A", "aor": "sip:block1@wrtc.%s", "auth_username": "block1@%s", "role": "%s", "registration": %s},' \
    "$ims_domain" "$ims_domain" "$ims_domain" "$1" "$registration"
  printf ' {"name": "block2", "wimpu": "sip:wrtc-!.*!@block2.%s", "option": "B", "aor": "sip:block2@wrtc.%s", "auth_username": "block2@%s", "role": "%s", "registration": %s}]' \
    "$ims_domain" "$ims_domain" "$ims_domain" "$2" "$registration"
}

# Kamailio embeds Debian's Python 3.11 (app_python3): its standard library and dist-packages
# (python3-jwt), whatever python3 comes first on the PATH of the caller (pyenv, a venv).
export PYTHONHOME=/usr PYTHONNOUSERSITE=1
unset PYTHONPATH
export KAM_CA="$state/pki/ca.pem"
export KAM_WWSF="https://$host:8443"
export KAM_REGISTRAR="https://$host:8180"
export KAM_SECRETS="$state/secrets" KAM_LEASE_DURATION="$lease_duration" KAM_LEASE_RENEW="$lease_renew"
# Kamailio (its uac_reg block refresh, usrloc expiry, TLS) and its helper processes run on the
# tester's clock: libfaketime reads the PIXIT's [clock] offset file as a relative offset, re-read on
# every call (the tester moves it during a scenario). The monotonic clock moves with it:
# FAKETIME_DONT_FAKE_MONOTONIC=1 makes Python's subprocess.run(timeout=...) fail with EINVAL in the
# KEMI script (libfaketime 0.9.10), so the helpers could not run.
export LD_PRELOAD="$faketime" FAKETIME_TIMESTAMP_FILE="$state/clock-offset" FAKETIME_NO_CACHE=1
# One instance under ../../scripts/supervise.sh (its pid in STATE_DIR/NAME.pid; started again after
# the PIXIT's [[ep_cscf]] restart, ../../scripts/restart-supervised.sh, TP_WIMPU_BLK_007, or kept
# down by its fail until its start_again, TP_WIMPU_LIFE_003, LIFE_009, LIFE_010):
#   kamailio_instance NAME RUNTIME_DIR WSS_PORT SIP_PORT
# the KAM_* settings of its helper come from the environment. Both instances may serve both blocks:
# block1 (option A: identities sip:wrtc-...@block1) and block2 (option B: external identities of
# enterprise.com, IMPUs sip:wrtc-...@block2), each while they hold its lease.
kamailio_instance() {
  name=$1 dir=$2 wss=$3 sip=$4
  sh "$here/../../scripts/supervise.sh" "$state" "$name" "$host" "$sip" \
    kamailio -DD -E $memory -f "$here/kamailio.cfg" -Y "$dir" -w "$dir" \
    -A "HOST=$host" -A "WSS_PORT=$wss" -A "SIP_PORT=$sip" \
    -A "TLS_CERT=\"$state/pki/ep-cscf.pem\"" -A "TLS_KEY=\"$state/pki/ep-cscf.key\"" \
    -A "WWSF_ORIGIN=\"https://$host:8443\"" \
    -A "ID_RE_A=\"^sip:wrtc-.*@block1\\.ims\\.example\\.net$\"" \
    -A "ID_RE_B=\"^sip:[^@;]+@enterprise\\.com$\"" \
    -A "IMPU_RE_B=\"^sip:wrtc-.*@block2\\.ims\\.example\\.net$\"" \
    -A "BLOCK_A_AOR=\"sip:block1@wrtc.$ims_domain\"" -A "BLOCK_B_AOR=\"sip:block2@wrtc.$ims_domain\"" \
    -A "REG_URI=\"sip:wrtc.$ims_domain\"" -A "REG_PROXY=\"sip:$host:$s_cscf_port;transport=tcp\"" \
    -A "PATH_URI=\"sip:term@$host:$sip;transport=tcp;lr\"" \
    -A "CONTACT_ADDR=\"$host:$sip;transport=tcp\"" -A "DB_URL=\"text://$dir/db\"" -A "KEMI=\"$here/epcscf.py\""
}

# ep-cscf2: block2 (option B), standing by for block1
(
  export KAM_CLIENT_CERT="$state/pki/client.ep-cscf2.pem" KAM_CLIENT_KEY="$state/pki/client.ep-cscf2.key"
  export KAM_IDENTITY="sip:ep-cscf2.$ims_domain" KAM_ACCESS="wss://$host:7444" KAM_BLOCKS="$(blocks standby primary)"
  kamailio_instance ep-cscf2 "$state/kamailio2" 7444 5082
) &
# ep-cscf1: block1 (option A), standing by for block2; its supervisor in the foreground
export KAM_CLIENT_CERT="$state/pki/client.ep-cscf1.pem" KAM_CLIENT_KEY="$state/pki/client.ep-cscf1.key"
export KAM_IDENTITY="sip:ep-cscf1.$ims_domain" KAM_ACCESS="wss://$host:7443" KAM_BLOCKS="$(blocks primary standby)"
kamailio_instance ep-cscf1 "$state/kamailio" 7443 5080
