#!/usr/bin/env bash
# push.sh OUT_DIR HOST:PORT
#
# Copies every image that build.sh OUT_DIR built into the plain-HTTP registry
# at HOST:PORT, under a path that keeps the upstream host as its first
# component: registry.k8s.io/pause:3.9 goes to HOST:PORT/registry.k8s.io/pause:3.9.
# A registries.conf prefix -> location rewrite (../registry/registries.conf.sh)
# then maps each upstream host to the local registry.
#
# Digests are preserved (skopeo --preserve-digests): the registry serves the
# very manifests of the layout, so references on one line of images.tsv share
# one image id, as critest requires for pause:3.9. Prints "<reference> <digest>"
# for every reference pushed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

usage() {
	echo "usage: $0 OUT_DIR HOST:PORT" >&2
	exit 2
}

main() {
	[[ $# -eq 2 ]] || usage
	local out=$1 registry=$2 tmp tag ref digest started count=0
	local -a refs
	[[ -f $out/oci/index.json && -f $out/images.tsv ]] || die "no built images in $out (run build.sh $out first)"
	[[ $registry =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "expected HOST:PORT, got '$registry'"
	require_tools skopeo jq curl
	curl -fsS -o /dev/null --max-time 5 "http://$registry/v2/" || die "no registry answers at http://$registry/v2/"

	# skopeo must not depend on (or be redirected by) the host's containers
	# configuration: an accept-anything policy and an empty registries.conf
	# (skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF; it has a hidden
	# --registries-conf option instead).
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand tmp now
	trap "rm -rf '$tmp'" EXIT
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$tmp/policy.json"
	: >"$tmp/registries.conf"

	started=$(date +%s)
	while read -r tag refs_line; do
		read -r -a refs <<<"$refs_line"
		digest=$(layout_manifest_digest "$out/oci" "$tag")
		[[ -n $digest ]] || die "layout $out/oci has no tag $tag"
		for ref in "${refs[@]}"; do
			skopeo --policy "$tmp/policy.json" --registries-conf "$tmp/registries.conf" copy --quiet --preserve-digests \
				--dest-tls-verify=false \
				"oci:$out/oci:$tag" "docker://$registry/$ref"
			printf '%s/%s %s\n' "$registry" "$ref" "$digest"
			count=$((count + 1))
		done
	done < <(tsv_entries "$out/images.tsv")
	log "pushed $count references to $registry in $(($(date +%s) - started))s"
}

main "$@"
