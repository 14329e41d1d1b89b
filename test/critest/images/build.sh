#!/usr/bin/env bash
# build.sh OUT_DIR
#
# Builds offline look-alikes of every image critest (cri-tools v1.37.0,
# linux/amd64) pulls, as one OCI image layout at OUT_DIR/oci with one tag per
# image (the tags and the upstream names they stand for are in images.tsv,
# copied to OUT_DIR/images.tsv). push.sh then copies them into a local
# registry. See README.md for what each image holds and why.
#
# Idempotent: a stamp (hash of every recipe input and tool version) is kept in
# OUT_DIR/.stamp, and nothing is rebuilt while it matches. Downloaded Debian
# packages are cached in OUT_DIR/.cache/debs.
#
# Needs root (file owners and the setuid bit must land in the layers as
# written), umoci, gcc (static glibc), readelf, apt-get and dpkg-deb.
# Images are built with umoci only (new/unpack/repack/config/tag); the layer
# tarballs umoci writes lack the tar end-of-archive marker, and that is kept
# on purpose: images like that exist in the wild and runtimes must accept them.
set -euo pipefail

# Files and directories made here must be readable by any user in the images.
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

# Debian packages whose files go into the busybox base layer: the dynamic
# busybox (its shell execs applets as real files, which the masked-paths test
# relies on; busybox-static runs them internally), the glibc it links against,
# and util-linux for ipcs/ipcmk/ipcrm, which Debian's busybox lacks.
DEBS=(busybox libc6 util-linux)
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CATATONIT=/usr/bin/catatonit

usage() {
	echo "usage: $0 OUT_DIR" >&2
	exit 2
}

# Hash of everything that decides the images' content.
compute_stamp() {
	{
		(cd "$HERE" && find build.sh lib.sh images.tsv src rootfs -type f -print0 | sort -z |
			xargs -0 sha256sum)
		(cd "$HERE" && find rootfs src -printf '%p %m\n' | sort)
		umoci --version
		gcc -dumpfullversion
		dpkg-query -W -f '${Package} ${Version}\n' catatonit 2>/dev/null || echo "catatonit ?"
		sha256sum "$CATATONIT"
	} | sha256sum | cut -d' ' -f1
}

# True when OUT/oci holds every tag of OUT/images.tsv.
layout_complete() {
	local tag
	[[ -f $OUT/oci/index.json && -f $OUT/images.tsv ]] || return 1
	for tag in $(tsv_tags "$OUT/images.tsv"); do
		[[ -n $(layout_manifest_digest "$OUT/oci" "$tag") ]] || return 1
	done
}

# apt_download DIR PKG...: fetches the packages' .deb files into DIR.
apt_download() {
	local dir=$1 output status=0
	shift
	output=$(cd "$dir" && apt-get download -q "$@" 2>&1) || status=$?
	# Running as root, apt warns that its _apt user cannot write DIR: harmless.
	grep -v '^W: Download is performed unsandboxed' <<<"$output" >&2 || true
	return "$status"
}

# Downloads (once) and unpacks the Debian packages in DEBS into $WORK/debs/<name>.
fetch_debs() {
	local cache=$OUT/.cache/debs pkg missing=() deb
	mkdir -p "$cache"
	for pkg in "${DEBS[@]}"; do
		compgen -G "$cache/${pkg}_*.deb" >/dev/null || missing+=("$pkg")
	done
	if ((${#missing[@]} > 0)); then
		log "downloading Debian packages: ${missing[*]}"
		if ! apt_download "$cache" "${missing[@]}"; then
			log "apt-get download failed; refreshing the package lists once and retrying"
			apt-get update -q >&2
			apt_download "$cache" "${missing[@]}" || die "cannot download ${missing[*]}"
		fi
	fi
	for pkg in "${DEBS[@]}"; do
		# Several cached versions would be ambiguous: take the newest file.
		deb=$(find "$cache" -maxdepth 1 -name "${pkg}_*.deb" -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
		[[ -n $deb ]] || die "package $pkg was not downloaded"
		mkdir -p "$WORK/debs/$pkg"
		dpkg-deb -x "$deb" "$WORK/debs/$pkg"
		log "using $(basename "$deb")"
	done
}

# Compiles the small helpers in src/ as static binaries (no libc needed in the
# image for them, and the same bytes whatever the image's glibc), and prepares
# the single files that "umoci insert" adds as layers, with the owner and mode
# they must have in the image.
compile_helpers() {
	local name
	mkdir -p "$WORK/bin" "$WORK/files"
	for name in webserver pgrep nnp; do
		gcc -static -Os -s -Wall -Wextra -Werror -o "$WORK/bin/$name" "$HERE/src/$name.c"
	done
	# setuid root: the nonewprivs test is about whether the bit takes effect.
	install -o 0 -g 0 -m 4755 "$WORK/bin/nnp" "$WORK/files/nnp"
	install -o 0 -g 0 -m 0755 "$CATATONIT" "$WORK/files/pause"
	# The upstream test images are busybox plus one empty file named after
	# the image or tag ("ADD ${TEST} ${TEST}"): that file makes each distinct.
	install -o 0 -g 0 -m 0644 /dev/null "$WORK/files/empty"
}

# Fails when an ELF file under ROOTFS needs a shared library that ROOTFS lacks.
check_shared_libs() {
	local rootfs=$1 file lib lacking=0
	while IFS= read -r -d '' file; do
		head -c 4 "$file" | grep -q $'\x7fELF' || continue
		for lib in $(readelf -d "$file" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			if [[ ! -e $rootfs/lib/x86_64-linux-gnu/$lib ]]; then
				log "${file#"$rootfs"} needs $lib, which the image lacks"
				lacking=1
			fi
		done
	done < <(find "$rootfs" -type f -perm -u+x -print0)
	((lacking == 0)) || die "shared libraries missing from the busybox base"
}

# Lays out the busybox base filesystem in $WORK/stage/busybox.
stage_busybox() {
	local root=$WORK/stage/busybox bb=$WORK/debs/busybox/bin/busybox
	local libc=$WORK/debs/libc6/lib/x86_64-linux-gnu applet lib tool
	mkdir -p "$root"/{bin,dev,etc,home,lib/x86_64-linux-gnu,lib64,usr/bin,usr/sbin,var/spool/mail,var/www}
	install -d -m 0700 "$root/root"
	install -d -m 1777 "$root/tmp"

	# Every applet is a hard link to /bin/busybox in /bin, as in upstream
	# busybox images: "ls" is then a real file that the shell execs.
	install -m 0755 "$bb" "$root/bin/busybox"
	for applet in $("$bb" --list); do
		[[ $applet == busybox ]] || ln "$root/bin/busybox" "$root/bin/$applet"
	done
	for lib in ld-linux-x86-64.so.2 libc.so.6 libresolv.so.2; do
		install -m 0755 "$libc/$lib" "$root/lib/x86_64-linux-gnu/$lib"
	done
	ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"

	# What Debian's busybox is built without but critest runs.
	for tool in ipcs ipcmk ipcrm; do
		install -m 0755 "$WORK/debs/util-linux/usr/bin/$tool" "$root/bin/$tool"
	done
	install -m 0755 "$WORK/bin/pgrep" "$root/bin/pgrep"
	ln "$root/bin/pgrep" "$root/bin/pkill"

	copy_overlay busybox "$root"
	chmod 0600 "$root/etc/shadow"
	chown -R 0:0 "$root"
	check_shared_libs "$root"
}

# copy_overlay NAME ROOT: copies rootfs/NAME over ROOT, owned by root, with
# the modes the image needs whatever the checkout's umask was: directories
# 0755, executables 0755, other files 0644.
copy_overlay() {
	local src=$HERE/rootfs/$1 root=$2 path
	while IFS= read -r -d '' path; do
		path=${path#"$src"}
		if [[ -d $src$path ]]; then
			install -d -o 0 -g 0 -m 0755 "$root$path"
		elif [[ -x $src$path ]]; then
			install -o 0 -g 0 -m 0755 "$src$path" "$root$path"
		else
			install -o 0 -g 0 -m 0644 "$src$path" "$root$path"
		fi
	done < <(find "$src" -mindepth 1 -print0 | sort -z)
}

# new_image TAG: a new image without layers.
new_image() {
	umoci new --image "$LAYOUT:$1"
}

# add_layer FROM TO STAGE_FN DESCRIPTION: unpacks FROM, lets STAGE_FN change
# the root filesystem (its argument), and repacks the difference as one new
# layer on top, saved as tag TO.
add_layer() {
	local from=$1 to=$2 stage_fn=$3 description=$4 bundle
	bundle=$WORK/bundles/$to
	mkdir -p "$WORK/bundles"
	umoci unpack --image "$LAYOUT:$from" "$bundle" >/dev/null
	"$stage_fn" "$bundle/rootfs"
	umoci repack --image "$LAYOUT:$to" \
		--history.created_by "cri-ts test/critest/images/build.sh: $description" "$bundle"
	rm -rf "$bundle"
}

# insert_file FROM TO SOURCE TARGET DESCRIPTION: TO is FROM plus one layer
# holding the file SOURCE at TARGET, written by "umoci insert". Such layers
# carry umoci's quirk: no tar end-of-archive marker, and the last file's data
# is not padded to a full 512-byte block. That is kept on purpose: images like
# that exist in the wild and the runtime's unpacking must accept them.
insert_file() {
	local from=$1 to=$2 source=$3 target=$4 description=$5 retag=()
	[[ $from == "$to" ]] || retag=(--tag "$to")
	umoci insert --image "$LAYOUT:$from" "${retag[@]}" \
		--history.created_by "cri-ts test/critest/images/build.sh: $description" "$source" "$target"
}

# configure TAG [umoci config options...]: changes TAG's image config in place.
configure() {
	local tag=$1
	shift
	umoci config --image "$LAYOUT:$tag" --history.created_by "cri-ts build.sh: config of $tag" "$@"
}

# derive FROM TO [umoci config options...]: TO is FROM with another image config.
derive() {
	local from=$1 to=$2
	shift 2
	umoci config --image "$LAYOUT:$from" --tag "$to" --history.created_by "cri-ts build.sh: config of $to" "$@"
}

# ---- root filesystem changes, one function per layer ----

stage_busybox_layer() { cp -a "$WORK/stage/busybox/." "$1/"; }

stage_nginx() {
	local root=$1
	copy_overlay nginx "$root"
	install -D -o 0 -g 0 -m 0755 "$WORK/bin/webserver" "$root/usr/sbin/nginx"
	install -d -o 0 -g 0 -m 0755 "$root/run" "$root/var/cache/nginx" "$root/var/log/nginx"
	# As in Alpine, where the upstream image comes from: /var/run is /run.
	ln -s /run "$root/var/run"
}

stage_hostnet_nginx() {
	stage_nginx "$1"
	copy_overlay hostnet-nginx "$1"
}

stage_httpd() {
	local root=$1
	copy_overlay httpd "$root"
	install -o 0 -g 0 -m 0755 "$WORK/bin/webserver" "$root/usr/local/apache2/bin/httpd"
	install -d -o 0 -g 0 -m 0755 "$root/usr/local/apache2/logs"
}

# What "adduser -u 1000 -D default-user; addgroup -g 50000
# group-defined-in-image; addgroup default-user group-defined-in-image" does.
stage_predefined_group() {
	local root=$1
	echo 'default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh' >>"$root/etc/passwd"
	echo 'default-user:!::0:99999:7:::' >>"$root/etc/shadow"
	echo 'default-user:x:1000:' >>"$root/etc/group"
	echo 'group-defined-in-image:x:50000:default-user' >>"$root/etc/group"
	install -d -o 1000 -g 1000 -m 0755 "$root/home/default-user"
}

# ---- recipes: one per layout tag of images.tsv ----

build_bases() {
	new_image busybox-base
	add_layer busybox-base busybox-base stage_busybox_layer "busybox base (Debian busybox, glibc, util-linux ipc tools, pgrep)"
	configure busybox-base --config.env "$PATH_ENV" --config.cmd sh

	new_image pause-base
	insert_file pause-base pause-base "$WORK/files/pause" /pause "catatonit as /pause"
	configure pause-base --config.entrypoint=/pause --config.entrypoint=-P \
		--config.user 65535:65535 --config.workingdir /
}

build_tag() {
	local tag=$1
	case $tag in
	busybox-1.29-2)
		derive busybox-base "$tag" --config.label image_version=1.29-2 ;;
	nginx-1.14-2)
		add_layer busybox-base "$tag" stage_nginx "nginx look-alike"
		configure "$tag" --clear config.cmd --config.cmd=nginx --config.cmd=-g --config.cmd='daemon off;' \
			--config.env NGINX_VERSION=1.14.2 --config.exposedports 80/tcp \
			--config.stopsignal SIGTERM --config.label image_version=1.14-2 ;;
	hostnet-nginx-amd64)
		add_layer busybox-base "$tag" stage_hostnet_nginx "nginx look-alike listening on 12003"
		configure "$tag" --config.entrypoint /docker-entrypoint.sh \
			--clear config.cmd --config.cmd=nginx --config.cmd=-g --config.cmd='daemon off;' \
			--config.env NGINX_VERSION=1.25.0 --config.exposedports 80/tcp --config.stopsignal SIGQUIT ;;
	httpd-2.4.39-4)
		add_layer busybox-base "$tag" stage_httpd "httpd look-alike"
		configure "$tag" --config.env "PATH=/usr/local/apache2/bin:${PATH_ENV#PATH=}" \
			--config.env HTTPD_PREFIX=/usr/local/apache2 --config.env HTTPD_VERSION=2.4.39 \
			--config.workingdir /usr/local/apache2 --clear config.cmd --config.cmd httpd-foreground \
			--config.exposedports 80/tcp --config.stopsignal SIGWINCH \
			--config.label image_version=2.4.39-4 ;;
	nonewprivs-1.3)
		insert_file busybox-base "$tag" "$WORK/files/nnp" /usr/local/bin/nnp "setuid-root nnp"
		configure "$tag" --clear config.cmd --config.cmd nnp --config.label image_version=1.3 ;;
	pause-3.9)
		derive pause-base "$tag" --config.label org.opencontainers.image.version=3.9 ;;
	pause-3.10)
		derive pause-base "$tag" --config.label org.opencontainers.image.version=3.10 ;;
	test-image-latest | test-image-1 | test-image-2 | test-image-3)
		insert_file busybox-base "$tag" "$WORK/files/empty" "/$tag" "add /$tag" ;;
	test-image-tag-test)
		insert_file busybox-base "$tag" "$WORK/files/empty" /test "add /test" ;;
	test-image-tag-all)
		insert_file busybox-base "$tag" "$WORK/files/empty" /all "add /all" ;;
	test-image-tags)
		insert_file busybox-base "$tag" "$WORK/files/empty" /same-image "add /same-image" ;;
	test-image-user-uid)
		derive busybox-base "$tag" --config.user 1002 ;;
	test-image-user-username)
		derive busybox-base "$tag" --config.user www-data ;;
	test-image-user-uid-group)
		derive busybox-base "$tag" --config.user 1003:1004 ;;
	test-image-user-username-group)
		derive busybox-base "$tag" --config.user www-data:1004 ;;
	test-image-predefined-group)
		add_layer busybox-base "$tag" stage_predefined_group "default-user (1000) in group-defined-in-image (50000)"
		configure "$tag" --config.user 1000 ;;
	ecr-busybox-*)
		# Distinct images for the benchmark's listing of five busybox variants.
		derive busybox-base "$tag" --config.label "variant=${tag#ecr-busybox-}" ;;
	*)
		die "images.tsv lists '$tag' but build.sh has no recipe for it" ;;
	esac
}

main() {
	[[ $# -eq 1 && -n $1 ]] || usage
	require_root
	require_tools umoci gcc readelf apt-get dpkg-deb dpkg-query jq sha256sum flock
	[[ -x $CATATONIT ]] || die "$CATATONIT is missing (apt-get install catatonit)"
	mkdir -p "$1"
	OUT=$(cd "$1" && pwd)

	# One build at a time per output directory.
	exec 9>"$OUT/.lock"
	flock 9

	local stamp started tag
	stamp=$(compute_stamp)
	if [[ -f $OUT/.stamp && $(<"$OUT/.stamp") == "$stamp" ]] && layout_complete; then
		log "images in $OUT/oci are up to date"
		return 0
	fi

	started=$(date +%s)
	WORK=$(mktemp -d "$OUT/.work.XXXXXX")
	# shellcheck disable=SC2064 # expand WORK now
	trap "rm -rf '$WORK'" EXIT
	LAYOUT=$WORK/oci

	fetch_debs
	compile_helpers
	stage_busybox
	umoci init --layout "$LAYOUT"
	build_bases
	for tag in $(tsv_tags "$HERE/images.tsv"); do
		log "building $tag"
		build_tag "$tag"
	done
	# Only the listed images stay; gc drops the blobs nothing refers to.
	umoci rm --image "$LAYOUT:busybox-base"
	umoci rm --image "$LAYOUT:pause-base"
	umoci gc --layout "$LAYOUT"

	rm -rf "$OUT/oci" "$OUT/.stamp"
	mv "$LAYOUT" "$OUT/oci"
	cp "$HERE/images.tsv" "$OUT/images.tsv"
	layout_complete || die "built layout lacks some images of images.tsv"
	echo "$stamp" >"$OUT/.stamp"
	log "built $(tsv_tags "$OUT/images.tsv" | wc -l) images into $OUT/oci in $(($(date +%s) - started))s"
}

main "$@"
