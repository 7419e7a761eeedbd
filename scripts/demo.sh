#!/usr/bin/env bash
# freeflow-ts demo, on a fresh Debian 12 machine as root:
#   installs what is missing (Debian packages, npm dependencies), builds,
#   creates two "containers" (network namespaces on a bridge), starts the
#   router, registers both containers with ffctl, and runs the unmodified
#   perftest ib_write_bw between them through the shim. Everything it creates
#   is removed on exit, also on failure or Ctrl-C.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root: bash scripts/demo.sh (it creates network namespaces and installs Debian packages)"

# ------------------------------------------------------------------ set-up
if [[ ${FFDEMO_SKIP_BUILD:-0} == 1 ]]; then
  say "set-up"
  echo "FFDEMO_SKIP_BUILD=1: using the existing install and build"
else
  bash "$ROOT/scripts/install.sh"
  say "build"
  npm run build
fi

# ------------------------------------------------------------------ the demo
RUN=ffdemo-$$
HUB=$RUN-hub
NS_A=$RUN-a
NS_B=$RUN-b
IP_A=10.77.250.1
IP_B=10.77.250.2
DIR=$(mktemp -d /tmp/ffdemo.XXXXXX)
ROUTER_PID=
APP_PIDS=()

cleanup() {
  local rc=$?
  set +e
  for p in "${APP_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  if [[ -n $ROUTER_PID ]]; then
    kill -TERM "$ROUTER_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$ROUTER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$ROUTER_PID" 2>/dev/null
  fi
  for ns in "$NS_A" "$NS_B" "$HUB"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns delete "$ns" 2>/dev/null
  done
  rm -rf "$DIR"
  ((rc == 0)) && echo "cleaned up" || echo "demo failed (exit $rc); cleaned up" >&2
  exit "$rc"
}
trap cleanup EXIT INT TERM

say "two containers: network namespaces $NS_A ($IP_A) and $NS_B ($IP_B) on a bridge"
ip netns add "$HUB"
ip -n "$HUB" link set lo up
ip -n "$HUB" link add br0 type bridge stp_state 0 forward_delay 0
ip -n "$HUB" link set br0 up
i=0
for pair in "$NS_A:$IP_A" "$NS_B:$IP_B"; do
  ns=${pair%%:*}; addr=${pair#*:}
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$HUB" link add "v$i" type veth peer name eth0 netns "$ns"
  ip -n "$HUB" link set "v$i" master br0 up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  i=$((i + 1))
done

say "router"
METRICS_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
ADMIN=$DIR/admin.sock
node dist/router/main.js --socket "$DIR/ffrouter.sock" --admin-socket "$ADMIN" \
  --metrics-port "$METRICS_PORT" --state-dir "$DIR/state" >"$DIR/router.log" 2>&1 &
ROUTER_PID=$!
ffctl() { node "$ROOT/dist/router/ctl/main.js" --admin-socket "$ADMIN" "$@"; }
for _ in $(seq 100); do
  ffctl container ls >/dev/null 2>&1 && break
  kill -0 "$ROUTER_PID" 2>/dev/null || { cat "$DIR/router.log"; die "the router exited"; }
  sleep 0.1
done
ffctl container ls >/dev/null || { cat "$DIR/router.log"; die "the router does not answer"; }
echo "ffrouter pid $ROUTER_PID, control socket $DIR/ffrouter.sock, metrics http://127.0.0.1:$METRICS_PORT/metrics"

say "register the containers (ffctl container add)"
ffctl container add demo-a --tenant demo --vip "$IP_A" --netns "$NS_A"
ffctl container add demo-b --tenant demo --vip "$IP_B" --netns "$NS_B"
ffctl container ls

# the environment an app in the container needs, as ffctl prints it
mapfile -t ENV_A < <(ffctl env demo-a | grep '=')
mapfile -t ENV_B < <(ffctl env demo-b | grep '=')
echo "ffctl env demo-a:"; printf '  %s\n' "${ENV_A[@]}"
say "the virtual device inside container demo-a (unmodified ibv_devices)"
timeout 20 ip netns exec "$NS_A" env "${ENV_A[@]}" ibv_devices

say "ib_write_bw: server in demo-a, client in demo-b"
timeout 120 ip netns exec "$NS_A" env "${ENV_A[@]}" ib_write_bw -d ffr0 -F -a -n 200 >"$DIR/server.out" 2>&1 &
APP_PIDS+=($!)
for _ in $(seq 100); do
  ip netns exec "$NS_A" ss -Htln 'sport = :18515' | grep -q . && break
  sleep 0.1
done
timeout 120 ip netns exec "$NS_B" env "${ENV_B[@]}" ib_write_bw -d ffr0 -F -a -n 200 "$IP_A" 2>&1 | tee "$DIR/client.out"
wait "${APP_PIDS[0]}" || { cat "$DIR/server.out"; die "the server side failed"; }
grep -q '^ *8388608 ' "$DIR/client.out" || die "no result table"

say "what the router saw"
ffctl container ls
node -e 'fetch(process.argv[1]).then(r=>r.text()).then(t=>console.log(t.split("\n").filter(l=>/^ffr_(bytes_total|work_requests_total|completions_total|containers)/.test(l)).join("\n")))' \
  "http://127.0.0.1:$METRICS_PORT/metrics"

say "demo done"
