#!/usr/bin/env bash
# stop.sh STATE_DIR
#
# Stops the registry that start.sh STATE_DIR started, by the PID recorded in
# STATE_DIR/registry.pid and only if that PID still is that registry (a stale
# pid file whose number was reused is never signalled). TERM first, KILL after
# STOP_TIMEOUT seconds. The storage is kept. Stopping a stopped registry is a
# no-op.
set -euo pipefail

STOP_TIMEOUT=10

log() { printf '[critest-registry] %s\n' "$*" >&2; }
die() { printf '[critest-registry] error: %s\n' "$*" >&2; exit 1; }

is_our_registry() {
	local pid=$1 config=$2 cmdline
	[[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	[[ $cmdline == *docker-registry* && $cmdline == *"$config"* ]]
}

main() {
	[[ $# -eq 1 ]] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
	[[ -d $1 ]] || { log "no state directory $1: nothing to stop"; return 0; }
	local state pidfile pid waited=0
	state=$(cd "$1" && pwd)
	pidfile=$state/registry.pid
	if [[ ! -f $pidfile ]]; then
		log "no pid file in $state: nothing to stop"
		return 0
	fi
	pid=$(<"$pidfile")
	if ! is_our_registry "$pid" "$state/registry.yml"; then
		log "registry (pid $pid) is not running; removing the stale pid file"
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid"
	while is_our_registry "$pid" "$state/registry.yml"; do
		if ((waited >= STOP_TIMEOUT * 10)); then
			log "registry (pid $pid) ignored TERM for ${STOP_TIMEOUT}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
			break
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	# Reap it if it is our own child (it is not when start.sh ran in another shell).
	wait "$pid" 2>/dev/null || true
	is_our_registry "$pid" "$state/registry.yml" && die "registry (pid $pid) is still running"
	rm -f "$pidfile"
	log "registry (pid $pid) stopped"
}

main "$@"
