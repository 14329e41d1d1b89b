# Pinned versions of what set-up installs from outside npm's lockfile.
# shellcheck shell=bash disable=SC2034
NODE_VERSION=24.21.0
CRI_TOOLS_VERSION=v1.37.0
