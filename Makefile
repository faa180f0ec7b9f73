# cnetstat: `make run` builds and runs it on this host, `make test` tests it.
MUSL    := x86_64-unknown-linux-musl
BIN     := target/$(MUSL)/release/cnetstat
# The static build as shipped (3,293,592 bytes, design.md: Size) plus 10%:
# TLS for --kube took it past the 2 MiB of 0.1, then --watch grew it.
MAX_SIZE := 3622951
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: release run test unit e2e check-release bench fuzz fuzz-smoke fuzz-tools

# A static binary to copy onto any node.
release:
	@rustup target list --installed | grep -qx '$(MUSL)' || rustup target add $(MUSL)
	cargo build --release --locked --target $(MUSL)

run: release
	$(SUDO) $(BIN) $(ARGS)

test: unit check-release fuzz-smoke e2e

unit:
	cargo test --locked

check-release: release
	@size=$$(stat -c %s $(BIN)); \
	  if [ $$size -ge $(MAX_SIZE) ]; then echo "FAIL: $(BIN) is $$size bytes, over $(MAX_SIZE)"; exit 1; fi; \
	  echo "ok: $(BIN) is $$size bytes"
	@if command -v file >/dev/null; then \
	  file -L $(BIN) | grep -q 'statically linked' || { file -L $(BIN); echo "FAIL: not statically linked"; exit 1; }; \
	  echo "ok: $(BIN) is statically linked"; \
	else echo "SKIP: 'file' is not installed, static linking not checked"; fi

# Real daemons, namespaces and sockets; needs root (CI installs and starts everything).
e2e: release
	python3 tests/e2e/run.py $(BIN)

# Timed next to ss, and next to cnetstat 0.1 (BASELINE_REV) built from git; then UDP's
# cost next to TCP's (bench/udp.py).
BASELINE_REV := bb95f20
BASELINE_DIR := target/baseline-$(BASELINE_REV)
BASELINE_BIN := $(BASELINE_DIR)/target/$(MUSL)/release/cnetstat

$(BASELINE_BIN):
	rm -rf $(BASELINE_DIR) && mkdir -p $(BASELINE_DIR)
	git archive $(BASELINE_REV) | tar -x -C $(BASELINE_DIR)
	cd $(BASELINE_DIR) && cargo build --release --locked --target $(MUSL)

bench: release $(BASELINE_BIN)
	python3 bench/run.py $(BIN) --baseline $(BASELINE_BIN) $(BENCH_ARGS)
	python3 bench/udp.py $(BIN) $(BENCH_UDP_ARGS)

# Fuzzing (fuzz/README.md): every parser's cargo-fuzz target in turn, on a
# corpus seeded from testdata/ plus fuzz/regressions/. Fails on any crash.
FUZZ_TOOLCHAIN     ?= nightly
CARGO_FUZZ_VERSION ?= 0.13.2
FUZZ_SECONDS       ?= 60
# A few seconds each, about two minutes with the build: a regression fails `make test`.
FUZZ_SMOKE_SECONDS ?= 2

fuzz-tools:
	@cargo +$(FUZZ_TOOLCHAIN) --version >/dev/null 2>&1 || \
	  rustup toolchain install $(FUZZ_TOOLCHAIN) --profile minimal
	@cargo fuzz --version >/dev/null 2>&1 || \
	  cargo install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION)

fuzz: fuzz-tools
	FUZZ_TOOLCHAIN=$(FUZZ_TOOLCHAIN) fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: fuzz-tools
	FUZZ_TOOLCHAIN=$(FUZZ_TOOLCHAIN) fuzz/run.sh $(FUZZ_SMOKE_SECONDS)
