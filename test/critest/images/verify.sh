#!/usr/bin/env bash
# verify.sh OUT_DIR [HOST:PORT]
#
# Proves that the images build.sh OUT_DIR built behave the way critest
# expects, by running them: each image is unpacked with umoci into a
# temporary directory and started with runc (config.json from "runc spec",
# edited with jq; the process comes from the image config). The web servers
# run in a network namespace made for the check, and are reached on
# 127.0.0.1 inside it. With HOST:PORT (a registry that push.sh filled), it
# also checks that the registry serves every reference with the layout's
# digest, and that registries.conf.sh's rewrite sends each upstream name to
# HOST:PORT (traced by skopeo inside an empty network namespace, so that
# nothing can be dialled).
#
# Prints one line per check and "N passed, N failed" last; exits 1 when a
# check failed. Leaves no container, network namespace or directory behind.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

PASSED=0
FAILED=0
CONTAINERS=()
NETNS=()
SEQ=0

pass() {
	PASSED=$((PASSED + 1))
	printf 'ok   %s\n' "$1"
}

fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL %s\n' "$1"
	if [[ -n ${2:-} ]]; then printf '     %s\n' "$2"; fi
}

# expect DESCRIPTION COMMAND...: passes when COMMAND succeeds.
expect() {
	local description=$1
	shift
	if "$@"; then pass "$description"; else fail "$description"; fi
}

# expect_eq DESCRIPTION ACTUAL EXPECTED
expect_eq() {
	if [[ $2 == "$3" ]]; then
		pass "$1"
	else
		fail "$1" "expected $(printf '%q' "$3"), got $(printf '%q' "$2")"
	fi
}

# expect_match DESCRIPTION TEXT EXTENDED_REGEX
expect_match() {
	if grep -Eq -- "$3" <<<"$2"; then
		pass "$1"
	else
		fail "$1" "no match for /$3/ in: $(head -c 300 <<<"$2" | tr '\n' '|')"
	fi
}

cleanup() {
	local id ns
	for id in "${CONTAINERS[@]}"; do
		runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
	done
	for ns in "${NETNS[@]}"; do
		ip netns delete "$ns" 2>/dev/null || true
	done
	# `ip netns add` makes /run/netns a mount point the first time; take it back if it was ours and is empty.
	if [[ $NETNS_DIR_WAS_MOUNTED == no ]] && mountpoint -q /run/netns && [[ -z $(ls -A /run/netns) ]]; then
		umount /run/netns 2>/dev/null && rmdir /run/netns 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
NETNS_DIR_WAS_MOUNTED=no
mountpoint -q /run/netns 2>/dev/null && NETNS_DIR_WAS_MOUNTED=yes

# ---- layout level ----

config_of() { layout_config "$OUT/oci" "$1"; }

# check_config TAG JQ_EXPRESSION: the image config satisfies the expression.
check_config() {
	local tag=$1 expression=$2 config
	config=$(config_of "$tag")
	if jq -e "$expression" >/dev/null <<<"$config"; then
		pass "$tag config: $expression"
	else
		fail "$tag config: $expression" "$(jq -c .config <<<"$config")"
	fi
}

check_layout() {
	local line tag absent=0 digest manifest
	local -A seen=()
	while read -r tag _; do
		manifest=$(layout_manifest_digest "$OUT/oci" "$tag")
		if [[ -z $manifest ]]; then
			fail "layout has $tag"
			absent=1
			continue
		fi
		digest=$(jq -r .config.digest "$(layout_blob "$OUT/oci" "$manifest")")
		if [[ -n ${seen[$digest]:-} ]]; then
			fail "$tag is a different image from ${seen[$digest]}" "both have config $digest"
		fi
		seen[$digest]=$tag
	done < <(tsv_entries "$OUT/images.tsv")
	((absent == 1)) || pass "layout has all $(tsv_tags "$OUT/images.tsv" | wc -l) images of images.tsv"
	expect "each images.tsv line is a distinct image (distinct config digests)" \
		test "${#seen[@]}" -eq "$(tsv_tags "$OUT/images.tsv" | wc -l)"

	line=$(tsv_entries "$OUT/images.tsv" | grep ' registry.k8s.io/pause:3.9\b' || true)
	expect "registry.k8s.io/pause:3.9 and k8s.gcr.io/pause:3.9 are one image (one line)" \
		grep -q ' k8s.gcr.io/pause:3.9\b' <<<"$line"
	line=$(tsv_entries "$OUT/images.tsv" | grep 'test-image-tags:1' || true)
	expect "test-image-tags:1, :2 and :3 are one image (one line)" \
		grep -q 'test-image-tags:2 .*test-image-tags:3' <<<"$line"

	check_config busybox-1.29-2 '.config.Cmd == ["sh"]'
	check_config nginx-1.14-2 '.config.Cmd == ["nginx","-g","daemon off;"] and .config.StopSignal == "SIGTERM" and (.config.ExposedPorts | has("80/tcp"))'
	check_config hostnet-nginx-amd64 '.config.Entrypoint == ["/docker-entrypoint.sh"] and .config.Cmd == ["nginx","-g","daemon off;"] and .config.StopSignal == "SIGQUIT"'
	check_config httpd-2.4.39-4 '.config.Cmd == ["httpd-foreground"] and .config.StopSignal == "SIGWINCH" and .config.WorkingDir == "/usr/local/apache2"'
	check_config nonewprivs-1.3 '.config.Cmd == ["nnp"]'
	check_config pause-3.9 '.config.Entrypoint == ["/pause","-P"] and .config.User == "65535:65535"'
	check_config pause-3.10 '.config.Entrypoint == ["/pause","-P"] and .config.User == "65535:65535"'
	check_config test-image-user-uid '.config.User == "1002"'
	check_config test-image-user-username '.config.User == "www-data"'
	check_config test-image-user-uid-group '.config.User == "1003:1004"'
	check_config test-image-user-username-group '.config.User == "www-data:1004"'
	check_config test-image-predefined-group '.config.User == "1000"'
	for tag in $(tsv_tags "$OUT/images.tsv"); do
		jq -e '.architecture == "amd64" and .os == "linux"' >/dev/null <<<"$(config_of "$tag")" ||
			fail "$tag is linux/amd64"
	done
	pass "every image is linux/amd64"

	check_insert_quirk test-image-tag-test
	check_insert_quirk pause-3.9
}

# The layers "umoci insert" wrote keep umoci's quirk on purpose (see
# README.md): no end-of-archive marker, the last file's data unpadded.
check_insert_quirk() {
	local tag=$1 manifest layer tail_bytes size
	manifest=$(layout_manifest_digest "$OUT/oci" "$tag")
	layer=$(jq -r '.layers[-1].digest' "$(layout_blob "$OUT/oci" "$manifest")")
	tail_bytes=$(gzip -dc "$(layout_blob "$OUT/oci" "$layer")" | tail -c 1024 | tr -d '\0' | wc -c)
	size=$(gzip -dc "$(layout_blob "$OUT/oci" "$layer")" | wc -c)
	if ((tail_bytes > 0)); then
		pass "$tag top layer has no tar end-of-archive marker ($size bytes; umoci quirk kept)"
	else
		fail "$tag top layer ends with an end-of-archive marker: umoci's quirk is gone"
	fi
}

# ---- root filesystem level ----

# unpacked TAG: prints the bundle directory holding TAG's root filesystem.
unpacked() {
	local tag=$1 bundle=$TMP/bundles/$1
	if [[ ! -d $bundle/rootfs ]]; then
		mkdir -p "$TMP/bundles"
		umoci unpack --image "$OUT/oci:$tag" "$bundle" >/dev/null
	fi
	printf '%s\n' "$bundle"
}

check_rootfs() {
	local root
	root=$(unpacked busybox-1.29-2)/rootfs
	expect_eq "busybox: /bin/ls is a hard link of /bin/busybox" \
		"$(stat -c %i "$root/bin/ls")" "$(stat -c %i "$root/bin/busybox")"
	expect "busybox: /bin/busybox has one hard link per applet (>100)" \
		test "$(stat -c %h "$root/bin/busybox")" -gt 100
	expect "busybox: /bin/busybox is dynamically linked (its shell execs applets)" \
		bash -c "readelf -l '$root/bin/busybox' | grep -q 'Requesting program interpreter'"
	local tool
	for tool in sh ls pgrep pkill ipcs ipcmk pidof netstat brctl ping top hostname id; do
		[[ -x $root/bin/$tool ]] || fail "busybox: /bin/$tool exists"
	done
	pass "busybox: sh ls pgrep pkill ipcs ipcmk pidof netstat brctl ping top hostname id exist"
	expect "busybox: /etc/passwd has nobody (65534) and www-data (33)" \
		bash -c "grep -qx 'nobody:x:65534:65534:nobody:/home:/bin/false' '$root/etc/passwd' && grep -q '^www-data:x:33:33:' '$root/etc/passwd'"
	expect_eq "busybox: /tmp is world-writable and sticky" "$(stat -c %a "$root/tmp")" 1777

	root=$(unpacked test-image-predefined-group)/rootfs
	expect "predefined-group: /etc/passwd has default-user 1000:1000" \
		grep -q '^default-user:x:1000:1000:' "$root/etc/passwd"
	expect "predefined-group: /etc/group has default-user (1000)" \
		grep -qx 'default-user:x:1000:' "$root/etc/group"
	expect "predefined-group: /etc/group has group-defined-in-image (50000) with default-user" \
		grep -qx 'group-defined-in-image:x:50000:default-user' "$root/etc/group"

	root=$(unpacked nonewprivs-1.3)/rootfs
	expect_eq "nonewprivs: /usr/local/bin/nnp is setuid root" \
		"$(stat -c '%a %u' "$root/usr/local/bin/nnp")" "4755 0"

	root=$(unpacked test-image-1)/rootfs
	expect "test-image-1: has /test-image-1 on top of busybox" test -f "$root/test-image-1" -a -x "$root/bin/sh"
}

# ---- running with runc ----

# write_config BUNDLE TAG [JQ_FILTER]: a config.json from "runc spec" whose
# process is the image's (entrypoint + cmd, env, working dir, numeric user),
# then JQ_FILTER applied.
write_config() {
	local bundle=$1 tag=$2 filter=${3:-.} image
	image=$(config_of "$tag")
	rm -f "$bundle/config.json"
	(cd "$bundle" && runc spec)
	jq --argjson img "$image" '
		.process.terminal = false
		| .root = {path: "rootfs", readonly: false}
		| .hostname = "verify"
		| .process.args = (($img.config.Entrypoint // []) + ($img.config.Cmd // []))
		| .process.env = ($img.config.Env // ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
		| .process.cwd = (if ($img.config.WorkingDir // "") == "" then "/" else $img.config.WorkingDir end)
		| .process.user = (($img.config.User // "") | split(":")
			| if (length > 0 and all(test("^[0-9]+$")))
			  then {uid: (.[0] | tonumber), gid: ((.[1] // "0") | tonumber)}
			  else {uid: 0, gid: 0} end)
		' "$bundle/config.json" | jq "$filter" >"$bundle/config.json.new"
	mv "$bundle/config.json.new" "$bundle/config.json"
}

# new_id: sets CID to a fresh container id and records it for clean-up.
# (Functions that record state set globals: a $(...) subshell would lose it.)
new_id() {
	SEQ=$((SEQ + 1))
	CID=critest-img-verify-$$-$SEQ
	CONTAINERS+=("$CID")
}

# run_fg NAME TAG [JQ_FILTER]: runs TAG's image to completion (30 s at most);
# sets RC, OUT_TEXT and ERR_TEXT.
run_fg() {
	local name=$1 tag=$2 filter=${3:-.} bundle id
	bundle=$(unpacked "$tag")
	write_config "$bundle" "$tag" "$filter"
	new_id
	id=$CID
	RC=0
	timeout 30 runc --root "$RUNC_ROOT" run --bundle "$bundle" "$id" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null || RC=$?
	OUT_TEXT=$(<"$TMP/$name.out")
	ERR_TEXT=$(<"$TMP/$name.err")
}

# run_bg TAG NETNS [JQ_FILTER]: starts TAG's image detached inside network
# namespace NETNS (a new, unnamed one when NETNS is empty), its output going
# to $TMP/<id>.log; sets CID.
run_bg() {
	local tag=$1 netns=$2 filter=${3:-.} bundle
	bundle=$(unpacked "$tag")
	if [[ -n $netns ]]; then
		filter="(.linux.namespaces |= map(if .type == \"network\" then .path = \"/var/run/netns/$netns\" else . end)) | $filter"
	fi
	write_config "$bundle" "$tag" "$filter"
	new_id
	runc --root "$RUNC_ROOT" run --detach --bundle "$bundle" "$CID" >"$TMP/$CID.log" 2>&1 </dev/null
}

container_status() {
	runc --root "$RUNC_ROOT" state "$1" 2>/dev/null | jq -r .status 2>/dev/null || echo gone
}

# stops_on SIGNAL ID SECONDS: sends SIGNAL and waits for the container to stop.
stops_on() {
	local signal=$1 id=$2 limit=$(($3 * 10)) waited=0
	runc --root "$RUNC_ROOT" kill "$id" "$signal" || return 1
	until [[ $(container_status "$id") != running ]]; do
		((waited >= limit)) && return 1
		sleep 0.1
		waited=$((waited + 1))
	done
}

# new_netns: sets NETNS_NAME to a new network namespace with only lo, up.
new_netns() {
	NETNS_NAME=critest-img-verify-$$-$((${#NETNS[@]} + 1))
	NETNS+=("$NETNS_NAME")
	ip netns add "$NETNS_NAME"
	ip -n "$NETNS_NAME" link set lo up
}

# http_get NETNS PORT: the body of http://127.0.0.1:PORT/ inside NETNS,
# retried for up to 10 s while the server starts.
http_get() {
	local netns=$1 port=$2 tries=0
	until ip netns exec "$netns" curl -fsS --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null; do
		tries=$((tries + 1))
		((tries < 50)) || return 1
		sleep 0.2
	done
}

# The shell snippets below are for the container's shell: single quotes on purpose.
# shellcheck disable=SC2016
check_busybox_runs() {
	run_fg bb-sh busybox-1.29-2
	expect_eq "busybox: the image's default command (sh) runs and exits 0" "$RC" 0

	run_fg bb-ls busybox-1.29-2 '.process.args = ["sh", "-c", "ls /"]'
	expect_match "busybox: ls / lists the root" "$OUT_TEXT" '^bin$'

	# critest's MaskedPaths test: with /bin/ls masked the shell must exec it and fail.
	run_fg bb-masked busybox-1.29-2 '.linux.maskedPaths += ["/bin/ls"] | .process.args = ["/bin/sh", "-c", "ls"]'
	expect_eq "busybox: masked /bin/ls gives '/bin/sh: ls: Permission denied'" \
		"$ERR_TEXT|$((RC != 0))" "/bin/sh: ls: Permission denied|1"

	run_fg bb-ro busybox-1.29-2 '.linux.readonlyPaths += ["/tmp"] | .process.args = ["touch", "/tmp/test"]'
	expect_eq "busybox: read-only /tmp gives 'touch: /tmp/test: Read-only file system'" \
		"$ERR_TEXT" "touch: /tmp/test: Read-only file system"

	run_fg bb-pgrep busybox-1.29-2 '.process.args = ["sh", "-c", "sleep 30 & s=$!; sleep 0.3; pgrep sleep; r=$?; kill $s; exit $r"]'
	expect_match "busybox: pgrep finds a running sleep" "$OUT_TEXT|$RC" '^[0-9]+\|0$'
	run_fg bb-pgrep-none busybox-1.29-2 '.process.args = ["sh", "-c", "pgrep sleep || true"]'
	expect_eq "busybox: 'pgrep sleep || true' prints nothing without a sleep" "$OUT_TEXT|$ERR_TEXT|$RC" "||0"

	# ipcmk here makes a segment in the container's own IPC namespace only.
	run_fg bb-ipc busybox-1.29-2 '.process.args = ["sh", "-c", "ipcmk -M 4096 && ipcs -m"]'
	expect_match "busybox: ipcmk and ipcs -m work" "$OUT_TEXT" '^Shared memory id: [0-9]+'
	expect_match "busybox: ipcs -m lists the segment" "$OUT_TEXT" ' 4096 '

	# critest's dropped-NET_RAW test wants output on stdout and "permission
	# denied" on stderr (runc's default capabilities lack NET_RAW).
	run_fg bb-ping busybox-1.29-2 '.process.args = ["ping", "-c", "1", "127.0.0.1"]'
	expect_match "busybox: ping without NET_RAW prints PING on stdout" "$OUT_TEXT" '^PING 127.0.0.1'
	expect_match "busybox: ping without NET_RAW says 'permission denied' on stderr" "$ERR_TEXT" 'permission denied'

	run_fg bb-nobody busybox-1.29-2 '.process.user = {uid: 65534, gid: 65534} | .process.args = ["id", "-nu"]'
	expect_eq "busybox: uid 65534 is 'nobody'" "$OUT_TEXT" nobody
	run_fg bb-group busybox-1.29-2 '.process.user = {uid: 1001, gid: 1002} | .process.args = ["sh", "-c", "echo $(id -u):$(id -g)"]'
	expect_eq "busybox: RunAsUser/RunAsGroup 1001:1002" "$OUT_TEXT" 1001:1002
	# critest's default container command is "top" (or "sh -c top"), with
	# no terminal: it must keep running until stopped.
	run_bg busybox-1.29-2 "" '.process.args = ["sh", "-c", "top"]'
	sleep 1
	expect_eq "busybox: 'sh -c top' without a terminal keeps running" "$(container_status "$CID")" running
	runc --root "$RUNC_ROOT" kill "$CID" SIGKILL 2>/dev/null || true

	run_fg bb-sleep busybox-1.29-2 '.process.args = ["sh", "-c", "sleep infinity & s=$!; sleep 0.3; kill $s && echo ok"]'
	expect_eq "busybox: 'sleep infinity' runs" "$OUT_TEXT" ok
}

check_predefined_group_runs() {
	# What a runtime sets for RunAsUser 1000 + SupplementalGroups [1234]
	# under the Merge policy: gid 1000, groups 1000 (own), 1234, 50000 (image).
	run_fg pg-groups test-image-predefined-group \
		'.process.user = {uid: 1000, gid: 1000, additionalGids: [1000, 1234, 50000]} | .process.args = ["id", "-G"]'
	expect_eq "predefined-group: 'id -G' prints '1000 1234 50000'" "$OUT_TEXT" "1000 1234 50000"
	run_fg pg-name test-image-predefined-group '.process.args = ["id", "-nu"]'
	expect_eq "predefined-group: the image user (1000) is default-user" "$OUT_TEXT" default-user
}

check_nonewprivs_runs() {
	run_fg nnp-false nonewprivs-1.3 '.process.user = {uid: 1000, gid: 0} | .process.noNewPrivileges = false'
	expect_eq "nonewprivs: as uid 1000 without no_new_privs prints 'Effective uid: 0'" "$OUT_TEXT" "Effective uid: 0"
	run_fg nnp-true nonewprivs-1.3 '.process.user = {uid: 1000, gid: 0} | .process.noNewPrivileges = true'
	expect_eq "nonewprivs: as uid 1000 with no_new_privs prints 'Effective uid: 1000'" "$OUT_TEXT" "Effective uid: 1000"
}

# check_web_server TAG PORT STOP_SIGNAL PAGE_REGEX
check_web_server() {
	local tag=$1 port=$2 signal=$3 page=$4 netns id body
	new_netns
	netns=$NETNS_NAME
	run_bg "$tag" "$netns"
	id=$CID
	body=$(http_get "$netns" "$port" || true)
	expect_match "$tag: answers GET / on port $port" "$body" "$page"
	case $tag in
	*nginx*)
		local pid cmdline pids
		pid=$(runc --root "$RUNC_ROOT" exec "$id" cat /var/run/nginx.pid 2>&1 || true)
		expect_match "$tag: writes /var/run/nginx.pid" "$pid" '^[0-9]+$'
		cmdline=$(runc --root "$RUNC_ROOT" exec "$id" cat /proc/1/cmdline 2>&1 | tr '\0' ' ' || true)
		expect_match "$tag: /proc/1/cmdline shows the master process" "$cmdline" '^nginx: master process nginx -g daemon off;'
		pids=$(runc --root "$RUNC_ROOT" exec "$id" pidof nginx 2>&1 || true)
		expect_match "$tag: 'pidof nginx' includes the pid file's pid" " $pids " " ${pid:-none} "
		expect_match "$tag: logs the request on stdout" "$(<"$TMP/$id.log")" '"GET / HTTP/1.1" 200 [0-9]+ '
		;;
	*httpd*)
		expect_match "$tag: its log names httpd" "$(<"$TMP/$id.log")" 'httpd'
		expect_eq "$tag: exec 'echo httpd'" "$(runc --root "$RUNC_ROOT" exec "$id" echo httpd 2>&1 || true)" httpd
		;;
	esac
	expect "$tag: stops on its STOPSIGNAL ($signal) within 5 s" stops_on "$signal" "$id" 5
}

check_pause_runs() {
	local tag id netns
	for tag in pause-3.9 pause-3.10; do
		new_netns
		run_bg "$tag" "$NETNS_NAME"
		id=$CID
		sleep 0.5
		expect_eq "$tag: keeps running as 65535:65535" "$(container_status "$id")" running
		expect "$tag: stops on SIGTERM within 5 s" stops_on SIGTERM "$id" 5
	done
}

# ---- registry level ----

check_registry() {
	local registry=$1 tag ref refs_line digest served policy conf host trace
	local -a refs
	policy=$TMP/policy.json
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$policy"
	: >"$TMP/empty-registries.conf"
	while read -r tag refs_line; do
		read -r -a refs <<<"$refs_line"
		digest=$(layout_manifest_digest "$OUT/oci" "$tag")
		for ref in "${refs[@]}"; do
			served=$(skopeo --policy "$policy" --registries-conf "$TMP/empty-registries.conf" \
				inspect --raw --tls-verify=false "docker://$registry/$ref" 2>&1 | sha256sum | cut -d' ' -f1)
			expect_eq "registry serves $ref with the layout's manifest" "sha256:$served" "$digest"
		done
	done < <(tsv_entries "$OUT/images.tsv")

	# registries.conf.sh: skopeo resolves each upstream name through the
	# rewrite. It runs in a new, empty network namespace: its attempt is only
	# traced, and no packet can leave, whatever the configuration says.
	conf=$TMP/registries.conf
	"$HERE/../registry/registries.conf.sh" "$registry" >"$conf"
	for ref in registry.k8s.io/pause:3.9 k8s.gcr.io/pause:3.9 \
		gcr.io/k8s-staging-cri-tools/test-image-tags:1 public.ecr.aws/docker/library/busybox:1; do
		host=${ref%%/*}
		# The names skopeo tried, one a line; the rewrite leaves exactly one.
		trace=$(unshare --net timeout 20 skopeo --debug --policy "$policy" --registries-conf "$conf" \
			inspect --raw "docker://$ref" 2>&1 |
			sed -n 's/.*Trying to access \\"\([^\\]*\)\\".*/\1/p' || true)
		expect_eq "registries.conf sends $host to $registry/$host (and nowhere else)" \
			"$trace" "$registry/$ref"
	done
}

main() {
	[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 OUT_DIR [HOST:PORT]" >&2; exit 2; }
	require_root
	require_tools umoci runc jq ip curl readelf gzip unshare
	OUT=$(cd "$1" && pwd)
	[[ -f $OUT/oci/index.json && -f $OUT/images.tsv ]] || die "no built images in $OUT (run build.sh first)"
	TMP=$(mktemp -d /tmp/critest-images-verify.XXXXXX)
	RUNC_ROOT=$TMP/runc
	trap cleanup EXIT

	check_layout
	check_rootfs
	check_busybox_runs
	check_predefined_group_runs
	check_nonewprivs_runs
	check_web_server nginx-1.14-2 80 SIGTERM 'Welcome to nginx!'
	check_web_server hostnet-nginx-amd64 12003 SIGQUIT 'Welcome to nginx!'
	check_web_server httpd-2.4.39-4 80 SIGWINCH 'It works!'
	check_pause_runs
	if [[ $# -eq 2 ]]; then
		require_tools skopeo sha256sum
		check_registry "$2"
	fi

	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

main "$@"
