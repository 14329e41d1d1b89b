#!/usr/bin/env bash
# Builds the Node-API addon native/fsops.c into dist/native/fsops.node with plain gcc: no node-gyp, no Python.
# The headers come from the Node on PATH (the project's .tools/node in practice), so the addon matches the ABI
# of the Node that will load it. Node-API addons resolve their napi_* symbols from the loading process at
# dlopen time, so nothing is linked here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
node_bin=$(command -v node) || {
	echo "build-native: node is not on PATH" >&2
	exit 1
}
NODE_INCLUDE=$(dirname "$(dirname "$node_bin")")/include/node
if [[ ! -f $NODE_INCLUDE/node_api.h ]]; then
	echo "build-native: $NODE_INCLUDE/node_api.h not found (a Node install with headers is needed)" >&2
	exit 1
fi
mkdir -p dist/native
gcc -O2 -shared -fPIC -Wall -Werror -I"$NODE_INCLUDE" native/fsops.c -o dist/native/fsops.node
