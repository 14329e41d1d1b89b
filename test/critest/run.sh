#!/usr/bin/env bash
# test/critest/run.sh [--full] [-- extra critest args]
#
# Runs the real critest (cri-tools, built by scripts/setup.sh) against a cri-ts daemon started here, with every
# image critest names served offline from a local registry that cri-ts reaches through its ordinary
# registries.conf. Writes the full log, a JSON report and a summary to test/critest/out/.
#
# Default (CI) mode skips the tests listed in known-failures.txt, so a run stays within minutes (a failing test
# often waits on a long timeout); --full runs the whole suite and prints the full summary. Either way the run
# fails when a test fails that is not a known failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$here/out"
state="$out/state"
registry_port=${CRITEST_REGISTRY_PORT:-5055}
registry="127.0.0.1:$registry_port"
mode=ci
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) mode=full ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--full] [-- critest args]" >&2; exit 2 ;;
  esac
  shift
done

export PATH="$repo/.tools/node/bin:$repo/.tools/bin:$PATH"
log() { printf '[critest] %s\n' "$*" >&2; }

daemon_pid=
socket="$state/run/cri-ts.sock"
shm_before=
shm_recorded=false
cleanup() {
  local rc=$?
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    # Pods outlive the daemon by design; the harness removes what critest left before it stops the daemon.
    crictl --runtime-endpoint "unix://$socket" rmp --all --force >/dev/null 2>&1 || true
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
  fi
  "$here/registry/stop.sh" "$state/registry" || true
  # What CNI plugins changed on the host (ip_forward, the bridge, portmap's chains) goes back as it was.
  [ -f "$state/host-network.json" ] && node "$here/host-network.ts" restore "$state/host-network.json" "$bridge"
  leftovers
  # critest's ipcmk test leaves SysV shared memory segments behind: remove the ones that appeared during the run.
  if [ "$shm_recorded" = true ]; then
    comm -13 <(echo "$shm_before") <(shm_ids) | while read -r id; do ipcrm -m "$id" 2>/dev/null || true; done
  fi
  exit "$rc"
}
shm_ids() { ipcs -m | awk '$2 ~ /^[0-9]+$/ { print $2 }' | sort; }
# Anything a run leaves behind is a bug of the runtime; say so loudly.
leftovers() {
  local left
  left=$( { findmnt -rn -o TARGET | grep -F "$state" ; ls /sys/fs/cgroup/memory/cri-ts 2>/dev/null | grep pod- ; } | head -5) || true
  [ -z "$left" ] || log "LEFTOVERS after the run: $left"
}
trap cleanup EXIT

mkdir -p "$out"
rm -rf "$state/root" "$state/run" "$state/cni" "$state/ipam"
mkdir -p "$state/registry" "$state/cni" "$state/cri-ts.d"
shm_before=$(shm_ids)
shm_recorded=true
bridge=critest0
node "$here/host-network.ts" snapshot "$state/host-network.json"

log "building the test images"
"$here/images/build.sh" "$out/images"
"$here/registry/start.sh" "$state/registry" "$registry_port"
"$here/images/push.sh" "$out/images" "$registry"
"$here/registry/registries.conf.sh" "$registry" >"$state/registries.conf"
# A pod network of the harness's own: a bridge and subnet only it uses, and no default route, so pods reach
# each other and the host's bridge address but nothing beyond (critest only connects from the host).
bridge=critest0
cat >"$state/cni/10-critest.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "critest",
 "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$state/ipam", "ranges": [[{"subnet": "10.199.250.0/24"}]]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON

log "starting cri-ts on $socket"
: >"$state/cri-ts.toml"
"$repo/bin/cri-ts" serve \
  --config "$state/cri-ts.toml" --config-dir "$state/cri-ts.d" \
  --listen "unix://$socket" --root "$state/root" --runroot "$state/run" \
  --registries-conf "$state/registries.conf" --cni-config-dir "$state/cni" \
  --pause-image registry.k8s.io/pause:3.10 \
  --metrics-port 0 --log-level debug >"$out/cri-ts.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  crictl --runtime-endpoint "unix://$socket" version >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { log "cri-ts exited; see $out/cri-ts.log"; tail -5 "$out/cri-ts.log" >&2; exit 1; }
  sleep 0.1
done

args=(
  --runtime-endpoint "unix://$socket" --image-endpoint "unix://$socket"
  --ginkgo.no-color --ginkgo.json-report "$out/report.json" --ginkgo.timeout 80m
)
if [ "$mode" = ci ]; then
  skip=$(node "$here/known-failures.ts" skip-regex "$here/known-failures.txt")
  [ -n "$skip" ] && args+=(--ginkgo.skip "$skip")
fi
log "running critest ($mode mode); log: $out/critest.log"
rm -f "$out/report.json"
set +e
(cd "$out" && critest "${args[@]}" "${extra[@]}") >"$out/critest.log" 2>&1
critest_rc=$?
set -e
log "critest exited with $critest_rc"
[ -f "$out/report.json" ] || { tail -30 "$out/critest.log" >&2; log "critest wrote no report"; exit 1; }
node "$here/known-failures.ts" summarize "$here/known-failures.txt" "$out/report.json" "$mode" | tee "$out/summary.txt"
