#!/usr/bin/env bash
# start.sh STATE_DIR PORT
#
# Starts Debian's distribution registry (/usr/bin/docker-registry) on
# 127.0.0.1:PORT only, with everything under STATE_DIR: its config
# (registry.yml), storage (storage/), pid file (registry.pid) and log
# (registry.log). Returns once GET /v2/ answers. Starting it again while the
# recorded process still serves is a no-op. stop.sh STATE_DIR stops it.
set -euo pipefail

REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
READY_TIMEOUT=30

log() { printf '[critest-registry] %s\n' "$*" >&2; }
die() { printf '[critest-registry] error: %s\n' "$*" >&2; exit 1; }

usage() {
	echo "usage: $0 STATE_DIR PORT" >&2
	exit 2
}

# True when PID is alive and is a docker-registry serving CONFIG.
is_our_registry() {
	local pid=$1 config=$2 cmdline
	[[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	[[ $cmdline == *docker-registry* && $cmdline == *"$config"* ]]
}

answers() {
	curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/v2/"
}

write_config() {
	local state=$1 port=$2
	# Loopback only, no auth, no TLS, no debug/metrics listener, no
	# notifications: nothing listens or dials beyond 127.0.0.1:PORT.
	cat >"$state/registry.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $state/storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
EOF
}

main() {
	[[ $# -eq 2 ]] || usage
	local port=$2 state pid config waited=0
	if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
		die "bad port: $port"
	fi
	[[ -x $REGISTRY_BIN ]] || die "$REGISTRY_BIN is missing (apt-get install docker-registry)"
	command -v curl >/dev/null || die "curl is missing"
	mkdir -p "$1"
	state=$(cd "$1" && pwd)
	config=$state/registry.yml

	if [[ -f $state/registry.pid ]]; then
		pid=$(<"$state/registry.pid")
		if is_our_registry "$pid" "$config" && answers "$port"; then
			log "already running (pid $pid) on 127.0.0.1:$port"
			return 0
		fi
		is_our_registry "$pid" "$config" && die "registry pid $pid runs but does not answer on port $port; run stop.sh first"
		rm -f "$state/registry.pid"
	fi
	if answers "$port" 2>/dev/null; then
		die "something else already answers on 127.0.0.1:$port"
	fi

	mkdir -p "$state/storage"
	write_config "$state" "$port"
	# A clean environment: REGISTRY_* variables would override the config
	# (REGISTRY_HTTP_ADDR could bind beyond loopback). setsid keeps it out
	# of the caller's process group and terminal; it runs until stop.sh.
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$state" \
		setsid "$REGISTRY_BIN" serve "$config" </dev/null >>"$state/registry.log" 2>&1 &
	pid=$!
	echo "$pid" >"$state/registry.pid"

	until answers "$port" 2>/dev/null; do
		# env and setsid exec in place (a background job of this
		# non-interactive shell is no process group leader, so setsid does
		# not fork): the recorded PID is the registry itself.
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$state/registry.pid"
			tail -n 20 "$state/registry.log" >&2 || true
			die "docker-registry exited during start-up (log: $state/registry.log)"
		fi
		if ((waited >= READY_TIMEOUT * 10)); then
			kill "$pid" 2>/dev/null || true
			rm -f "$state/registry.pid"
			die "docker-registry did not answer on 127.0.0.1:$port within ${READY_TIMEOUT}s"
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	is_our_registry "$pid" "$config" || die "pid $pid is not the registry; see $state/registry.log"
	log "docker-registry (pid $pid) serves 127.0.0.1:$port, storage in $state/storage"
}

main "$@"
