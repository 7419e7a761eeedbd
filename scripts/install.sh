#!/usr/bin/env bash
# The one install step of freeflow-ts, shared by scripts/demo.sh and .ci/run:
# the Debian packages the build and the tests need, a node >= 20 check, and
# the npm dependencies exactly as package-lock.json pins them (npm ci).
# As root on Debian 12; idempotent, and quick when nothing is missing.
#
# The lockfile is kept one that npm ci accepts on these machines (every
# platform's optional packages listed, which npm ci checks even though it
# installs only this platform's). If npm ci refuses it, the lockfile is the
# defect: regenerate it with `rm -rf node_modules package-lock.json &&
# npm install` and commit it. CI's fresh clone runs this script, so a
# lockfile npm ci rejects fails CI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'install: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (installs Debian packages)"

say "Debian packages"
PKGS=(
  ibverbs-utils perftest rdmacm-utils libibverbs-dev librdmacm-dev
  iproute2 etcd-server iperf3 build-essential gcc g++ make python3 ca-certificates
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all present: ${PKGS[*]}"
fi

say "node"
command -v node >/dev/null || die "node >= 20 is required (not found on PATH)"
command -v npm >/dev/null || die "npm is required (not found on PATH)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node >= 20 is required, found $(node --version)"
echo "node $(node --version), npm $(npm --version)"

say "npm dependencies"
# npm ci replaces node_modules wholesale (about 20 s); skip it when the tree
# npm last installed (node_modules/.package-lock.json) is newer than both
# manifests, i.e. nothing changed since.
stamp=node_modules/.package-lock.json
if [[ -f $stamp && $stamp -nt package.json && $stamp -nt package-lock.json ]]; then
  echo "node_modules is current with package-lock.json"
else
  npm ci --no-audit --no-fund
fi
