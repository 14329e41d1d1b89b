#!/usr/bin/env bash
# The whole test suite, in order of cost: lint and layering, type-check, unit, integration (real daemon), the
# critest images' own checks, then critest against the daemon (known failures skipped; see test/critest).
# Run through `make test`, which sets up the machine first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/.tools/node/bin:$repo/.tools/bin:$PATH"
step() { printf '\n==> %s\n' "$*"; }

step "lint (eslint, prettier, import cycles)"
npm run --silent lint
step "type-check"
npx tsc -p tsconfig.json --noEmit
npx tsc -p tsconfig.scripts.json
step "unit tests"
npm run --silent test:unit
step "integration tests"
npm run --silent test:integration
step "critest images behave like upstream"
test/critest/images/build.sh test/critest/out/images
test/critest/images/verify.sh test/critest/out/images
step "critest conformance (CI mode)"
test/critest/run.sh
