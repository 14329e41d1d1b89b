# The README's two commands: `make serve` (serve the CRI socket with built-in defaults) and `make test` (the whole
# suite). Both run scripts/setup.sh first, which installs whatever a fresh Debian 12 machine lacks (idempotent).
.PHONY: serve test setup critest-full bench

setup:
	scripts/setup.sh

serve: setup
	./bin/cri-ts serve $(ARGS)

test: setup
	scripts/test.sh

# Every critest test, known failures included, with the full summary (slow: failing tests wait on timeouts).
critest-full: setup
	test/critest/run.sh --full

# Image pull against Debian's containerd: wall time and peak RSS, 5 alternating rounds (see bench/README.md).
bench: setup
	bench/image-pull.sh
