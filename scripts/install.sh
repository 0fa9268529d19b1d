#!/usr/bin/env bash
# Install everything the suite needs on a fresh Debian machine (the README's first command).
#   - Debian packages: tshark (dumpcap, and tshark for cross-checking captures), chromium
#     (the conformance report is checked in headless Chromium; the browser WIC test drives it
#     through Playwright, never with Playwright's own browser download), libnss3-tools
#     (certutil: the browser test's NSS database trusting the test CA), and Kamailio 5.6 with
#     the modules the Kamailio eP-CSCF uses (interop/kamailio; its JWT and W6 helper needs
#     python3-jwt), and SIPp (Debian sip-tester: the remote IMS party of tests/interop/test_sipp.py,
#     scenarios in interop/sipp), and PostgreSQL's server (Debian postgresql: the registrar's
#     shared store, tested on a throwaway server the tests start; the system service is disabled)
#   - the Python package with its test and development dependencies (editable)
#   - JsSIP and ws for the interop test (npm ci in interop/jssip; Debian nodejs and npm
#     when there is no node)
#   - SIP.js and ws for the second interop test (npm ci in interop/sipjs)
#   - the WIC page's bundle the WWSF serves (npm ci and npm run build, esbuild, in
#     reference/nodes/wwsf/web -> dist/wic.js; not committed)
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
DEBIAN_PACKAGES=(tshark chromium libnss3-tools)
# The Kamailio eP-CSCF of issue 16 (interop/kamailio, examples/pixit/kamailio.toml): websocket and
# xhttp (WSS, RFC 7118), tls, outbound, python3 (KEMI glue), utils and extra (the test suite's run
# of it); its helper runs with Debian's python3 and python3-jwt.
DEBIAN_PACKAGES+=(kamailio kamailio-websocket-modules kamailio-tls-modules kamailio-outbound-modules
  kamailio-python3-modules kamailio-utils-modules kamailio-extra-modules python3-jwt)
# libfaketime: the Kamailio lab runs on the tester's clock (the PIXIT's [clock] offset file, read by
# libfaketime as a relative offset), so its block refresh and expiry follow the tester's time jumps.
DEBIAN_PACKAGES+=(faketime)
# SIPp as the remote IMS party calling through the I-CSCF (issue 17, interop/sipp).
DEBIAN_PACKAGES+=(sip-tester)
# PostgreSQL's server binaries (initdb, postgres): the registrar's shared store (issue 18); the tests
# start a throwaway server of their own on loopback (reference/pg_cluster.py), never the system one.
DEBIAN_PACKAGES+=(postgresql)
# Node for the JsSIP and SIP.js interop tests; a node already on the PATH (e.g. nodesource) is kept.
command -v node >/dev/null || DEBIAN_PACKAGES+=(nodejs npm)

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install: need root (or sudo) to install Debian packages: ${missing[*]}" >&2; exit 1
  fi
  echo "install: Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # tshark asks whether non-root users may capture; the noninteractive frontend takes the default.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's kamailio package enables a system service listening on port 5060 of every address; the
# suite starts Kamailio itself (examples/pixit/kamailio.toml) and its emulated I-CSCF needs 5060.
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet kamailio 2>/dev/null; then
  echo "install: disabling the kamailio system service (the suite starts Kamailio itself)"
  $SUDO systemctl disable --now --quiet kamailio
fi

# Debian's postgresql package starts a cluster on port 5432 as a system service; the suite starts its
# own servers (a new cluster per test session, on a free port) and needs none.
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet postgresql 2>/dev/null; then
  echo "install: disabling the postgresql system service (the tests start their own PostgreSQL)"
  $SUDO systemctl disable --now --quiet postgresql
fi

echo "install: Python packages (editable, with test and dev extras)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
if command -v node >/dev/null && command -v npm >/dev/null; then
  echo "install: npm packages of interop/jssip (JsSIP, ws)"
  npm ci --prefix interop/jssip --no-audit --no-fund --loglevel=error >/dev/null
  echo "install: npm packages of interop/sipjs (SIP.js, ws)"
  npm ci --prefix interop/sipjs --no-audit --no-fund --loglevel=error >/dev/null
  echo "install: the WIC bundle of the WWSF page (JsSIP, esbuild)"
  npm ci --prefix reference/nodes/wwsf/web --no-audit --no-fund --loglevel=error >/dev/null
  npm run --prefix reference/nodes/wwsf/web --silent build >/dev/null
else
  echo "install: node or npm not found: interop/jssip, interop/sipjs and the WIC bundle not installed (tests/interop will fail)" >&2
fi
echo "install: done"
