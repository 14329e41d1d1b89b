#!/usr/bin/env bash
# bench/image-pull.sh — image pull: cri-ts beside Debian's containerd, same image, same run.
#
# Pulls one multi-layer gzip image (built here once and cached; default ~200 MiB unpacked in 6 layers) from a
# local docker-registry on 127.0.0.1 into empty storage, alternating cri-ts (crictl pull against a fresh daemon)
# and containerd (ctr images pull, which unpacks into the overlayfs snapshotter, against a fresh daemon) round by
# round. Prints every round, the medians, the ratios cri-ts/containerd, and where cri-ts's time goes (from its
# Prometheus metrics). It reports; it does not assert a target. Exits non-zero only when it could not measure.
#
# Environment (all optional):
#   BENCH_ROUNDS=5              rounds (each round pulls once with each tool)
#   BENCH_IMAGE_MB=200          unpacked image size in MiB (compressed size is printed)
#   BENCH_LAYERS=6              layers
#   BENCH_RANDOM_PCT=35         share of incompressible random bytes; the rest are files copied from /usr
#   BENCH_TOOLS="cri-ts containerd"   run only one side with e.g. BENCH_TOOLS=containerd
#   BENCH_CONCURRENCY=3         ctr's --max-concurrent-downloads (3 = containerd's CRI default and cri-ts's default
#                               image.max_concurrent_downloads; ctr alone would fetch every layer at once)
#   BENCH_REGISTRY_PORT=5066    port of the local registry on 127.0.0.1
#   BENCH_CACHE=bench/.cache    built image (OCI layout) and registry storage, kept between runs
#   BENCH_TMPDIR=/var/tmp       where each round's daemon state lives (removed afterwards)
#   BENCH_STORAGE=ext4          what that state lives on: a fresh loop-mounted ext4 (with a journal) per pull
#                               (default), a fresh tmpfs per pull (no disk: CPU only), or dir (a plain directory
#                               under BENCH_TMPDIR; on this VM's journal-less root ext4, creating files soon
#                               after deleting many scans ext4's recently-deleted inodes, and each round would
#                               pay for the deletions of the one before)
#   BENCH_KEEP_LOGS=            a directory to copy each daemon's log and cri-ts's scraped metrics into
#   BENCH_CRI_TS_ENV=           extra environment for the cri-ts daemon, for experiments: "UV_THREADPOOL_SIZE=8
#                               MALLOC_ARENA_MAX=2" (space-separated NAME=VALUE words)
#   BENCH_CRI_TS_PROFILE=       a directory: run the cri-ts daemon with a V8 CPU profile (node --cpu-prof) and
#                               keep one .cpuprofile per round there, plus a debug log with per-layer timings;
#                               summarise with `node bench/cpuprofile-summary.ts FILE`. Profiling slows cri-ts:
#                               read times from an unprofiled run.
#
# Smoke run: BENCH_ROUNDS=1 BENCH_IMAGE_MB=20 bench/image-pull.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
export PATH="$repo/.tools/node/bin:$repo/.tools/bin:$PATH"

ROUNDS=${BENCH_ROUNDS:-5}
IMAGE_MB=${BENCH_IMAGE_MB:-200}
LAYERS=${BENCH_LAYERS:-6}
RANDOM_PCT=${BENCH_RANDOM_PCT:-35}
TOOLS=${BENCH_TOOLS:-cri-ts containerd}
CONCURRENCY=${BENCH_CONCURRENCY:-3}
REGISTRY_PORT=${BENCH_REGISTRY_PORT:-5066}
CACHE=${BENCH_CACHE:-$here/.cache}
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
STORAGE=${BENCH_STORAGE:-ext4}
KEEP_LOGS=${BENCH_KEEP_LOGS:-}
PROFILE=${BENCH_CRI_TS_PROFILE:-}
read -ra CRI_TS_ENV <<<"${BENCH_CRI_TS_ENV:-}"
for e in "${CRI_TS_ENV[@]}"; do [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "BENCH_CRI_TS_ENV: not NAME=VALUE: $e" >&2; exit 2; }; done

IMAGE_VERSION=v2 # bump when the way the image is built changes
TAG="$IMAGE_VERSION-${IMAGE_MB}m-${LAYERS}l-${RANDOM_PCT}r"
REPO_PATH=bench/pull
REGISTRY="127.0.0.1:$REGISTRY_PORT"
IMAGE="$REGISTRY/$REPO_PATH:$TAG"
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

for v in ROUNDS IMAGE_MB LAYERS CONCURRENCY REGISTRY_PORT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer, got '${!v}'"
done
if ! [[ $RANDOM_PCT =~ ^[0-9]+$ ]] || ((RANDOM_PCT > 100)); then die "BENCH_RANDOM_PCT must be 0..100"; fi
for t in $TOOLS; do [[ $t == cri-ts || $t == containerd ]] || die "unknown tool in BENCH_TOOLS: $t"; done
has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }
[[ $STORAGE == ext4 || $STORAGE == tmpfs || $STORAGE == dir ]] || die "BENCH_STORAGE must be ext4, tmpfs or dir"
[[ $(id -u) == 0 ]] || die "run as root (daemons, overlay mounts)"

# ---------------------------------------------------------------------------------------------------- cleanup

tmp=
daemon_pid=
registry_started=false

# Unmounts everything mounted under $1, deepest first (containerd's overlay snapshots mount while unpacking).
unmount_under() {
  local dir=$1 m
  [[ -n $dir ]] || return 0
  awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || log "could not unmount $m"
  done
}

# TERM, then KILL after 15 s; only the PID this script started.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored TERM for 15s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Fresh, empty storage for one pull, mounted at $1 (see BENCH_STORAGE above).
make_storage() {
  local dir=$1 img dev
  mkdir -p "$dir"
  case $STORAGE in
    ext4)
      img=$dir.img
      truncate -s "$(((IMAGE_MB * 4 + 512) * 1024 * 1024))" "$img"
      dev=$(losetup --find --show --direct-io=on "$img" 2>/dev/null || losetup --find --show "$img")
      # Inode tables and journal initialised now, not by ext4lazyinit in the background during the pull.
      mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$dev"
      mount -o noatime "$dev" "$dir"
      ;;
    tmpfs) mount -t tmpfs -o "size=$((IMAGE_MB * 4 + 512))m,mode=0700" bench "$dir" ;;
    dir) ;;
  esac
}

drop_storage() {
  local dir=$1 dev
  sync -f "$dir" 2>/dev/null || sync # the next pull must not pay for this one's writeback
  unmount_under "$dir"
  if [[ $STORAGE != dir ]]; then
    umount "$dir" 2>/dev/null || umount -l "$dir" || log "could not unmount $dir"
  fi
  if [[ $STORAGE == ext4 ]]; then
    dev=$(losetup -n -O NAME -j "$dir.img" | head -n1)
    [[ -n $dev ]] && losetup -d "$dev"
    rm -f "$dir.img"
  fi
  rm -rf "$dir"
}

cleanup() {
  local rc=$?
  [[ -n $daemon_pid ]] && stop_pid "$daemon_pid"
  [[ $registry_started == true ]] && { "$repo/test/critest/registry/stop.sh" "$CACHE/registry" || true; }
  if [[ -n $tmp && -d $tmp ]]; then
    unmount_under "$tmp"
    # Our loop devices only: those backed by a file under $tmp.
    losetup -n -l -O NAME,BACK-FILE | awk -v d="$tmp/" 'index($2, d) == 1 { print $1 }' | while read -r dev; do
      losetup -d "$dev" || true
    done
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------- set-up

if has_tool containerd && ! { command -v containerd && command -v ctr; } >/dev/null; then
  # Debian's unit is installed too, but never started here (and this machine has no systemd to start it).
  log "installing Debian's containerd (brings ctr)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y containerd >/dev/null
fi
need=(curl skopeo sha256sum gzip tar shuf /usr/bin/time node)
has_tool cri-ts && need+=(crictl)
has_tool containerd && need+=(containerd ctr)
for c in "${need[@]}"; do command -v "$c" >/dev/null || die "$c is missing (scripts/setup.sh installs the project's tools)"; done
if has_tool cri-ts; then
  [[ -f $repo/dist/src/cmd/main.js ]] || die "cri-ts is not built (scripts/setup.sh or make build)"
fi

mkdir -p "$CACHE" "$TMPBASE"
tmp=$(mktemp -d "$TMPBASE/cri-ts-bench.XXXXXX")

# ---------------------------------------------------------------------------------------------------- image

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Writes $3 (JSON text) as a blob into OCI layout $1 and prints "digest size"; $2 is unused (media type, for the
# caller's readability).
put_json_blob() {
  local layout=$1 file=$tmp/blob.json hex
  printf '%s' "$3" >"$file"
  hex=$(sha256_of "$file")
  mv "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $(stat -c %s "$layout/blobs/sha256/$hex")"
}

# Builds an OCI layout at $1 holding one image tagged $TAG: $LAYERS gzip layers totalling ~$IMAGE_MB MiB
# unpacked. Each layer is a real directory tree: files from this machine's /usr (shuffled with a fixed seed, so
# each layer mixes text, ELF binaries, scripts, symlinks and hard links) plus $RANDOM_PCT% of random bytes in
# files of 64 KiB..8 MiB (already-compressed content, as media and archives are in real images). Bigger layers
# first, as base layers are.
build_image() {
  local layout=$1 work=$tmp/build total weights=0 i
  log "building the test image $TAG (once; cached in $CACHE)"
  rm -rf "$layout"
  mkdir -p "$layout/blobs/sha256" "$work"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  total=$((IMAGE_MB * 1024 * 1024))
  for ((i = 1; i <= LAYERS; i++)); do weights=$((weights + LAYERS - i + 2)); done

  # Candidate files under 1 MiB (so a layer holds many), whole directories at a time (at most 300 files of each)
  # in a fixed pseudo-random order of directories, so the tree has a realistic number of directories.
  (cd / && find usr -xdev -type d -printf '%p\n' | shuf --random-source=<(yes bench)) >"$work/dirs"
  (cd / && find usr -xdev \( -type f -size -1024k -readable -o -type l \) -printf '%h\t%s\t%p\n') |
    awk -F'\t' 'NR == FNR { rank[$0] = NR; next } NF == 3 && ($1 in rank) { print rank[$1] "\t" $2 "\t" $3 }' \
      "$work/dirs" - | LC_ALL=C sort -t$'\t' -k1,1n -k3,3 |
    awk -F'\t' '$1 != d { d = $1; n = 0 } ++n <= 300 { print $2 "\t" $3 }' | tr '\n' '\0' >"$work/candidates"

  local -a diff_ids=() layer_descs=()
  local target usr_target got size path stage n left chunk hex diff_id files=0 regular=0 symlinks=0 gz_total=0 sizes=(65536 262144 1048576 4194304 8388608 524288 2097152)
  exec 3<"$work/candidates"
  for ((i = 1; i <= LAYERS; i++)); do
    target=$((total * (LAYERS - i + 2) / weights))
    usr_target=$((target * (100 - RANDOM_PCT) / 100))
    got=0
    : >"$work/list"
    while ((got < usr_target)) && IFS=$'\t' read -r -d '' size path <&3; do
      printf '%s\0' "$path" >>"$work/list"
      got=$((got + size))
    done
    stage=$work/layer$i
    mkdir -p "$stage"
    tar -C / --null --no-recursion -T "$work/list" -cf - | tar -C "$stage" -xpf -
    # Random payload.
    left=$((target - got))
    n=0
    mkdir -p "$stage/opt/app$i/data"
    while ((left > 0)); do
      chunk=${sizes[n % ${#sizes[@]}]}
      ((chunk > left)) && chunk=$left
      head -c "$chunk" /dev/urandom >"$stage/opt/app$i/data/blob-$n.bin"
      left=$((left - chunk))
      n=$((n + 1))
    done
    # Some directories of their own, as package managers leave.
    mkdir -p "$stage/etc/app$i" "$stage/var/lib/app$i"
    printf 'layer=%s\n' "$i" >"$stage/etc/app$i/app.conf"
    (cd "$stage" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z) >"$work/entries"
    tar -C "$stage" --null --no-recursion -T "$work/entries" --numeric-owner -cf "$work/layer.tar"
    files=$((files + $(tr -cd '\0' <"$work/entries" | wc -c)))
    regular=$((regular + $(find "$stage" -type f | wc -l)))
    symlinks=$((symlinks + $(find "$stage" -type l | wc -l)))
    diff_id=sha256:$(sha256_of "$work/layer.tar")
    gzip -6 -n -c "$work/layer.tar" >"$work/layer.tar.gz"
    hex=$(sha256_of "$work/layer.tar.gz")
    size=$(stat -c %s "$work/layer.tar.gz")
    gz_total=$((gz_total + size))
    mv "$work/layer.tar.gz" "$layout/blobs/sha256/$hex"
    diff_ids+=("\"$diff_id\"")
    layer_descs+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}")
    log "  layer $i: $(($(stat -c %s "$work/layer.tar") / 1048576)) MiB tar, $((size / 1048576)) MiB gzip"
    rm -rf "$stage" "$work/layer.tar"
  done
  exec 3<&-

  local config manifest cfg cfg_size man man_size
  join() { local IFS=,; echo "$*"; }
  config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"/usr/bin/sh\"],\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$(join "${diff_ids[@]}")]}}"
  read -r cfg cfg_size < <(put_json_blob "$layout" config "$config")
  manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"$cfg\",\"size\":$cfg_size},\"layers\":[$(join "${layer_descs[@]}")]}"
  read -r man man_size < <(put_json_blob "$layout" manifest "$manifest")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man" "$man_size" "$TAG" >"$layout/index.json"
  printf 'files=%s\nregular=%s\nsymlinks=%s\nunpacked=%s\ncompressed=%s\nmanifest=%s\n' "$files" "$regular" "$symlinks" "$total" "$gz_total" "$man" >"$layout/bench-meta"
  rm -rf "$work"
}

layout="$CACHE/images/$TAG"
[[ -f $layout/bench-meta ]] || build_image "$layout"
files='' regular='' symlinks='' unpacked='' compressed='' manifest=''
# shellcheck disable=SC1091
. "$layout/bench-meta"

"$repo/test/critest/registry/start.sh" "$CACHE/registry" "$REGISTRY_PORT"
registry_started=true
if ! curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$REGISTRY/v2/$REPO_PATH/manifests/$manifest"; then
  log "pushing $IMAGE to the local registry"
  skopeo copy --quiet --preserve-digests --dest-tls-verify=false "oci:$layout:$TAG" "docker://$IMAGE" >&2
fi

# ---------------------------------------------------------------------------------------------------- measuring

# utime+stime of a process in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 " " $13 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
free_port() { node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# Sum of a Prometheus sample, by metric name and optional label filter, from a scraped text file.
prom() { awk -v n="$2" -v f="${3:-}" '$1 == n || index($1, n "{") == 1 { if (f == "" || index($1, f)) s += $2 } END { printf "%.6f\n", s + 0 }' "$1"; }

results=$tmp/results.tsv
# round first tool ok wall_s peak_kb idle_kb user_s sys_s client_kb client_s disk_mb server_s dl_s dl_n unpack_s unpack_n bytes
# anon_kb file_kb heap_bytes external_bytes (fields 13-22: cri-ts only, after the pull) host_s
: >"$results"

keep_log() { [[ -z $KEEP_LOGS ]] || { mkdir -p "$KEEP_LOGS" && cp "$1" "$KEEP_LOGS/$2"; }; }

wait_ready() { # pid what command...
  local pid=$1 what=$2 i
  shift 2
  for ((i = 0; i < 300; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { log "$what exited during start-up"; return 1; }
    sleep 0.05
  done
  log "$what did not become ready in 15s"
  return 1
}

# CPU ticks the whole machine spent busy (all CPUs, every process and kernel thread; idle and iowait excluded).
host_busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# Runs `$@` (the pull client) under GNU time; sets wall (s), client_kb, client_s, host_s (machine CPU), rc.
timed_client() {
  local out=$1 t0 t1
  shift
  rc=0
  local b0 b1
  b0=$(host_busy_ticks)
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%M %U %S' -o "$out.time" "$@" >"$out" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  b1=$(host_busy_ticks)
  host_s=$(awk -v a="$b0" -v b="$b1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  read -r client_kb cu cs < <(tail -n1 "$out.time")
  client_s=$(awk -v a="$cu" -v b="$cs" 'BEGIN { printf "%.2f", a + b }')
}

# Daemon figures around the pull: idle RSS before, peak RSS (VmHWM) and CPU used during it.
daemon_before() { idle_kb=$(status_kb "$1" VmRSS); read -r u0 s0 < <(cpu_ticks "$1"); }
daemon_after() {
  local u1 s1
  peak_kb=$(status_kb "$1" VmHWM)
  read -r u1 s1 < <(cpu_ticks "$1")
  user_s=$(awk -v a="$u0" -v b="$u1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
  sys_s=$(awk -v a="$s0" -v b="$s1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
}

run_cri_ts() { # round first
  local d=$tmp/cri-ts sock port layers_done anon_kb file_kb heap external ok=1 server=0 dl=0 dln=0 up=0 upn=0 bytes=0 disk
  make_storage "$d"
  mkdir -p "$d/root" "$d/run" "$d/cni" "$d/conf.d"
  : >"$d/cri-ts.toml"
  cat >"$d/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "enforcing"

[[registry]]
location = "$REGISTRY"
insecure = true
EOF
  sock=$d/run/cri-ts.sock
  port=$(free_port)
  local -a prof_env=("${CRI_TS_ENV[@]}") prof_args=()
  if [[ -n $PROFILE ]]; then
    mkdir -p "$PROFILE"
    prof_env+=(NODE_OPTIONS="--cpu-prof --cpu-prof-dir=$d/prof --cpu-prof-name=round$1.cpuprofile")
    prof_args=(--log-level debug)
  fi
  env "${prof_env[@]}" "$repo/bin/cri-ts" serve --config "$d/cri-ts.toml" --config-dir "$d/conf.d" \
    --listen "unix://$sock" --root "$d/root" --runroot "$d/run" \
    --registries-conf "$d/registries.conf" --cni-config-dir "$d/cni" \
    --metrics-port "$port" "${prof_args[@]}" >"$d/daemon.log" 2>&1 &
  daemon_pid=$! # env and bin/cri-ts exec: this is the node daemon itself
  local crictl=(crictl --runtime-endpoint "unix://$sock" --image-endpoint "unix://$sock")
  if ! wait_ready "$daemon_pid" cri-ts "${crictl[@]}" version ||
    ! wait_ready "$daemon_pid" "cri-ts metrics" curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics"; then
    tail -n 5 "$d/daemon.log" >&2
    die "cri-ts did not start (see above)"
  fi
  daemon_before "$daemon_pid"
  timed_client "$d/pull.log" "${crictl[@]}" pull "$IMAGE"
  daemon_after "$daemon_pid"
  curl -fsS "http://127.0.0.1:$port/metrics" >"$d/metrics.txt" || : >"$d/metrics.txt"
  anon_kb=$(status_kb "$daemon_pid" RssAnon)
  file_kb=$(status_kb "$daemon_pid" RssFile)
  # Unpacked too, as containerd's are: one verified layer directory per layer (<root>/.../layers/sha256/<hex>).
  layers_done=$(find "$d/root" -mindepth 3 -maxdepth 5 -type d -path '*/layers/sha256/*' -regextype posix-extended -regex '.*/[0-9a-f]{64}' | wc -l)
  if ((rc != 0)) || ((layers_done != LAYERS)) || ! "${crictl[@]}" inspecti "$IMAGE" >/dev/null 2>&1; then
    ok=0
    log "round $1: cri-ts pull failed (exit $rc, $layers_done of $LAYERS layers unpacked): $(grep -v 'level=warning msg="Config' "$d/pull.log" | tail -n 3 | tr '\n' ' ')"
  fi
  server=$(prom "$d/metrics.txt" cri_ts_operations_latency_seconds_sum 'operation="PullImage"')
  dl=$(prom "$d/metrics.txt" cri_ts_image_layer_seconds_sum 'phase="download"')
  dln=$(prom "$d/metrics.txt" cri_ts_image_layer_seconds_count 'phase="download"')
  up=$(prom "$d/metrics.txt" cri_ts_image_layer_seconds_sum 'phase="unpack"')
  upn=$(prom "$d/metrics.txt" cri_ts_image_layer_seconds_count 'phase="unpack"')
  bytes=$(prom "$d/metrics.txt" cri_ts_image_pulls_bytes_total)
  heap=$(prom "$d/metrics.txt" cri_ts_nodejs_heap_size_total_bytes)
  external=$(prom "$d/metrics.txt" cri_ts_nodejs_external_memory_bytes)
  disk=$(du -sxm "$d/root" | cut -f1)
  stop_pid "$daemon_pid"
  daemon_pid=
  keep_log "$d/daemon.log" "round$1-cri-ts.log"
  keep_log "$d/metrics.txt" "round$1-cri-ts-metrics.txt"
  if [[ -n $PROFILE ]]; then
    cp "$d"/prof/*.cpuprofile "$PROFILE/" 2>/dev/null || log "round $1: cri-ts wrote no CPU profile"
    cp "$d/daemon.log" "$PROFILE/round$1-cri-ts.log"
  fi
  drop_storage "$d"
  printf '%s\t%s\tcri-ts\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$ok" "$wall" \
    "$peak_kb" "$idle_kb" "$user_s" "$sys_s" "$client_kb" "$client_s" "$disk" "$server" "$dl" "$dln" "$up" "$upn" \
    "$bytes" "$anon_kb" "$file_kb" "$heap" "$external" "$host_s" >>"$results"
}

# A containerd of our own: every path under $1, only what a pull needs (content, metadata, overlayfs snapshotter,
# walking differ, gc, the gRPC services ctr uses). No CRI plugin, no runtimes or task service, no other
# snapshotters, no /opt plugin, no debug or metrics listener.
containerd_config() {
  cat <<EOF
version = 2
root = "$1/root"
state = "$1/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.native",
  "io.containerd.runtime.v1.linux", "io.containerd.runtime.v2.task", "io.containerd.monitor.v1.cgroups",
  "io.containerd.service.v1.tasks-service", "io.containerd.grpc.v1.tasks", "io.containerd.internal.v1.restart",
  "io.containerd.internal.v1.opt",
]

[grpc]
  address = "$1/containerd.sock"

[ttrpc]
  address = "$1/containerd.sock.ttrpc"

[debug]
  level = "info"
EOF
}

run_containerd() { # round first
  local d=$tmp/containerd sock ok=1 disk snaps
  make_storage "$d"
  containerd_config "$d" >"$d/config.toml"
  sock=$d/containerd.sock
  # Plain environment: no proxy variables, no CONTAINERD_* overrides. (Debian's containerd would use unpigz
  # from PATH for gunzip if installed; it is not part of containerd, so we note it rather than hide it.)
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$d" containerd --config "$d/config.toml" >"$d/daemon.log" 2>&1 &
  daemon_pid=$!
  local ctr=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$d" ctr --address "$sock" --namespace bench)
  if ! wait_ready "$daemon_pid" containerd "${ctr[@]}" version; then
    tail -n 5 "$d/daemon.log" >&2
    die "containerd did not start (see above)"
  fi
  daemon_before "$daemon_pid"
  timed_client "$d/pull.log" "${ctr[@]}" images pull --plain-http --max-concurrent-downloads "$CONCURRENCY" "$IMAGE"
  daemon_after "$daemon_pid"
  # ctr unpacks into the default snapshotter (overlayfs) unless told not to: check one committed snapshot per layer.
  snaps=$("${ctr[@]}" snapshots --snapshotter overlayfs ls 2>/dev/null | awk 'NR > 1 && $NF == "Committed"' | wc -l)
  if ((rc != 0)) || ((snaps != LAYERS)); then
    ok=0
    log "round $1: containerd pull failed (exit $rc, $snaps of $LAYERS layers unpacked): $(tail -n 3 "$d/pull.log" | tr '\n' ' ')"
  fi
  disk=$(du -sxm "$d/root" | cut -f1)
  stop_pid "$daemon_pid"
  daemon_pid=
  keep_log "$d/daemon.log" "round$1-containerd.log"
  drop_storage "$d"
  printf '%s\t%s\tcontainerd\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\t\t\t\t\t\t\t\t\t%s\n' "$1" "$2" "$ok" \
    "$wall" "$peak_kb" "$idle_kb" "$user_s" "$sys_s" "$client_kb" "$client_s" "$disk" "$host_s" >>"$results"
}

# ---------------------------------------------------------------------------------------------------- rounds

cri_ts_version=n/a
containerd_version=n/a
has_tool cri-ts && cri_ts_version=$("$repo/bin/cri-ts" version 2>/dev/null |
  awk '$1 == "Version:" { v = $2 } $1 == "Node:" { n = $2 } END { print v " (Node " n ")" }')
has_tool containerd && containerd_version=$(containerd --version | awk '{ print $3 }')

log "image $IMAGE: $LAYERS layers, $files entries, $(awk -v u="$unpacked" -v c="$compressed" \
  'BEGIN { printf "%.1f MiB unpacked, %.1f MiB gzip", u / 1048576, c / 1048576 }')"
for ((r = 1; r <= ROUNDS; r++)); do
  read -ra order <<<"$TOOLS"
  ((r % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
  for t in "${order[@]}"; do
    log "round $r/$ROUNDS: $t"
    case $t in
      cri-ts) run_cri_ts "$r" "${order[0]}" ;;
      containerd) run_containerd "$r" "${order[0]}" ;;
    esac
  done
done

# ---------------------------------------------------------------------------------------------------- report

awk -F'\t' -v image="$IMAGE" -v layers="$LAYERS" -v files="$files" -v regular="$regular" -v symlinks="$symlinks" -v unpacked="$unpacked" \
  -v compressed="$compressed" -v rounds="$ROUNDS" -v storage="$STORAGE" -v conc="$CONCURRENCY" \
  -v crits="$cri_ts_version" -v ctd="$containerd_version" '
function mib(kb) { return kb / 1024 }
function median(key,   n, i, j, t, v) {
  n = cnt[key]
  if (n == 0) return ""
  for (i = 1; i <= n; i++) v[i] = val[key, i]
  for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(key, x) { val[key, ++cnt[key]] = x }
function fmt(x, f) { return x == "" ? "-" : sprintf(f, x) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2fx", a / b) }
{
  tool = $3
  if ($4 != 1) { failed[tool]++; rows[NR] = sprintf("%-5s %-10s %-10s  FAILED", $1, $2, tool); next }
  rows[NR] = sprintf("%-5s %-10s %-10s %7.2f %9.1f %9.1f %7.2f %7.2f %9.1f %7.2f %7d %7.2f", $1, $2, tool, $5,
    mib($6), mib($7), $8, $9, mib($10), $11, $12, $23)
  # CPU that neither the daemon nor its client spent (the registry and kernel I/O threads take ~0.1-0.2 s).
  other = $23 - ($8 + $9 + $11)
  if (other > 0.5 && other > 0.2 * ($8 + $9 + $11)) { rows[NR] = rows[NR] " *"; busy++ }
  add(tool "wall", $5); add(tool "peak", mib($6)); add(tool "idle", mib($7)); add(tool "user", $8)
  add(tool "sys", $9); add(tool "client", mib($10)); add(tool "clientcpu", $11); add(tool "disk", $12)
  add(tool "both", mib($6) + mib($10)); add(tool "cpu", $8 + $9 + $11)
  if (tool == "cri-ts") {
    add("server", $13); add("dl", $14); add("dln", $15); add("up", $16); add("upn", $17); add("bytes", $18)
    add("anon", mib($19)); add("file", mib($20)); add("heap", $21 / 1048576); add("ext", $22 / 1048576)
  }
}
END {
  printf "image-pull: %s\n", image
  printf "  %d layers, %d tar entries (%d regular files, %d symlinks, the rest directories), %.1f MiB unpacked, %.1f MiB gzip\n", layers, files, regular, symlinks,
    unpacked / 1048576, compressed / 1048576
  printf "  cri-ts %s (crictl pull)  vs  containerd %s (ctr images pull --plain-http, overlayfs unpack, %d concurrent downloads)\n",
    crits, ctd, conc
  printf "  %d rounds, alternating which goes first; fresh daemon and fresh empty %s storage for every pull\n\n", rounds, storage
  printf "%-5s %-10s %-10s %7s %9s %9s %7s %7s %9s %7s %7s %7s\n", "round", "first", "tool", "wall s", "peak MiB",
    "idle MiB", "user s", "sys s", "cli MiB", "cli s", "disk MiB", "host s"
  for (i = 1; i <= NR; i++) print rows[i]
  if (busy) printf "* the machine spent over 0.5 s and 20%% more CPU than this pull: other work ran meanwhile\n"
  printf "\n(peak = daemon VmHWM after the pull; idle = daemon VmRSS before it; user/sys = daemon CPU during the pull;\n"
  printf " cli = the client (crictl / ctr) max RSS and CPU: ctr itself fetches the blobs and streams them into containerd;\n"
  printf " host = CPU the whole machine spent during the pull, the registry, kernel threads and loop-device I/O\n"
  printf " included: far above user + sys + cli means something else was running and the round is suspect)\n\n"

  printf "%-34s %12s %12s %10s\n", "median", "cri-ts", "containerd", "ratio"
  printf "%-34s %12s %12s %10s\n", "wall time, s", fmt(median("cri-tswall"), "%.2f"), fmt(median("containerdwall"), "%.2f"),
    ratio(median("cri-tswall"), median("containerdwall"))
  printf "%-34s %12s %12s %10s\n", "peak RSS, daemon, MiB", fmt(median("cri-tspeak"), "%.1f"),
    fmt(median("containerdpeak"), "%.1f"), ratio(median("cri-tspeak"), median("containerdpeak"))
  printf "%-34s %12s %12s %10s\n", "peak RSS, daemon + client, MiB", fmt(median("cri-tsboth"), "%.1f"),
    fmt(median("containerdboth"), "%.1f"), ratio(median("cri-tsboth"), median("containerdboth"))
  printf "%-34s %12s %12s %10s\n", "idle RSS before the pull, MiB", fmt(median("cri-tsidle"), "%.1f"),
    fmt(median("containerdidle"), "%.1f"), ratio(median("cri-tsidle"), median("containerdidle"))
  printf "%-34s %12s %12s %10s\n", "CPU, daemon + client, s", fmt(median("cri-tscpu"), "%.2f"),
    fmt(median("containerdcpu"), "%.2f"), ratio(median("cri-tscpu"), median("containerdcpu"))
  printf "%-34s %12s %12s %10s\n", "disk after the pull, MiB", fmt(median("cri-tsdisk"), "%d"),
    fmt(median("containerddisk"), "%d"), ratio(median("cri-tsdisk"), median("containerddisk"))
  for (t in failed) printf "%s: %d failed pull(s), left out of the medians\n", t, failed[t]
  w = ratio(median("cri-tswall"), median("containerdwall")); p = ratio(median("cri-tspeak"), median("containerdpeak"))
  if (w != "-" && p != "-")
    printf "target cri-ts <= 0.80x containerd: time %s (%s), peak RSS %s (%s)\n", w, (w + 0 <= 0.8 ? "met" : "not met"),
      p, (p + 0 <= 0.8 ? "met" : "not met")

  if (cnt["server"] > 0) {
    s = median("server"); dl = median("dl"); up = median("up"); wall = median("cri-tswall"); b = median("bytes")
    printf "\nwhere cri-ts spends a pull (medians; from its /metrics and /proc):\n"
    printf "  crictl wall %.2f s; PullImage in the daemon %.2f s (the rest: crictl start-up and connect)\n",
      wall, s
    printf "  layer download %.2f s summed over %d layers (fetch + sha256 + write + fsync into the content store)\n",
      dl, median("dln")
    printf "  layer unpack   %.2f s summed over %d layers (gunzip + tar + diff_id sha256 + writes)\n", up, median("upn")
    printf "  %d lanes run at once, so lane time (%.2f s) exceeds the daemon time; download %.0f%%, unpack %.0f%% of it\n",
      conc, dl + up, (dl + up) ? 100 * dl / (dl + up) : 0, (dl + up) ? 100 * up / (dl + up) : 0
    printf "  %.1f MiB downloaded (%.1f MiB/s over the daemon time); daemon CPU %.2f s user + %.2f s sys over %.2f s wall\n",
      b / 1048576, s ? b / 1048576 / s : 0, median("cri-tsuser"), median("cri-tssys"), s
    a = median("anon"); h = median("heap"); e = median("ext")
    printf "  memory right after the pull: RSS %.1f MiB = %.1f anon + %.1f file-backed (node binary, libraries);\n",
      a + median("file"), a, median("file")
    printf "    of the anon part, V8 heap %.1f MiB and Buffers/external %.1f MiB: %.1f MiB is native memory outside V8\n",
      h, e, a - h - e
    printf "    (malloc arenas of the main and thread-pool threads: zlib state, freed chunk buffers, libuv)\n"
    if (cnt["containerdwall"] > 0)
      printf "  containerd for comparison: CPU %.2f s user + %.2f s sys in the daemon, %.2f s in ctr\n",
        median("containerduser"), median("containerdsys"), median("containerdclientcpu")
  }
}' "$results"

# A benchmark reports, it does not assert; but a side with no successful pull was not measured at all.
for t in $TOOLS; do
  awk -F'\t' -v t="$t" '$3 == t && $4 == 1 { found = 1 } END { exit !found }' "$results" ||
    die "every $t pull failed: nothing was measured (see the messages above)"
done
