# lib.sh - helpers shared by build.sh, push.sh and verify.sh (sourced, not run).
# shellcheck shell=bash

log() { printf '[critest-images] %s\n' "$*" >&2; }
die() { printf '[critest-images] error: %s\n' "$*" >&2; exit 1; }

require_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (umoci/runc need to keep file owners and setuid bits)"
}

require_tools() {
	local tool missing=()
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}"
}

# Prints the entries of an images.tsv file as "<layout tag> <ref> [<ref>...]",
# one image a line, without comments and blank lines.
tsv_entries() {
	local file=$1
	[[ -f $file ]] || die "no image list at $file"
	sed -e 's/#.*//' -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' "$file" | grep -v '^$' || true
}

# Prints the layout tags listed in an images.tsv file.
tsv_tags() { tsv_entries "$1" | cut -d' ' -f1; }

# Prints the digest ("sha256:...") of the manifest tagged TAG in the OCI layout LAYOUT.
layout_manifest_digest() {
	local layout=$1 tag=$2
	jq -r --arg t "$tag" \
		'[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)] | first | .digest // empty' \
		"$layout/index.json"
}

# Prints the path of the blob with digest DIGEST in the OCI layout LAYOUT.
layout_blob() {
	local layout=$1 digest=$2
	printf '%s/blobs/%s/%s\n' "$layout" "${digest%%:*}" "${digest#*:}"
}

# Prints the image config (JSON) of TAG in the OCI layout LAYOUT.
layout_config() {
	local layout=$1 tag=$2 manifest
	manifest=$(layout_manifest_digest "$layout" "$tag")
	[[ -n $manifest ]] || return 1
	jq -r '.config.digest' "$(layout_blob "$layout" "$manifest")" | {
		read -r config
		cat "$(layout_blob "$layout" "$config")"
	}
}
