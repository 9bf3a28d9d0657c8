# SPDX-License-Identifier: GPL-2.0
#
# rust_fuse: build the module against the cached test kernel (tools/build-kernel)
# or against KDIR=<a configured and built 6.12 tree with CONFIG_RUST=y>.
#
#   make            build rust_fuse.ko (and the kernel, the first time)
#   make clippy     the same with CLIPPY=1
#   make fmt        rustfmt with the kernel's .rustfmt.toml
#   make fmtcheck   fail if rustfmt would change anything
#   make lint       fmtcheck, then a full clippy build that fails on any warning
#   make check      run every test against the C fuse and rust_fuse in the VM
#   make bench      the benchmarks, C fuse against rust_fuse in one VM boot
#                   (tools/bench; BENCH_ARGS="--scale=smoke ..." passes options)
#   make clean

ifeq ($(KDIR),)
KDIR := $(shell $(CURDIR)/tools/build-kernel | tail -n 1)
endif
LLVM_BIN ?= /usr/lib/llvm-19/bin
export PATH := $(LLVM_BIN):$(HOME)/.cargo/bin:$(PATH)
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) ARCH=x86_64 LLVM=1
RUST_SOURCES = $(filter-out rust/bindings_generated.rs,$(shell find rust -name '*.rs'))

all: modules

modules:
	$(KMAKE) modules

clippy:
	$(KMAKE) CLIPPY=1 modules

fmt:
	rustfmt --edition 2021 --config-path $(KDIR)/source/.rustfmt.toml $(RUST_SOURCES)

fmtcheck:
	rustfmt --check --edition 2021 --config-path $(KDIR)/source/.rustfmt.toml $(RUST_SOURCES)

lint: fmtcheck
	@mkdir -p build
	$(KMAKE) CLIPPY=1 -B modules 2>&1 | tee build/clippy.log
	@! grep -qE '^(warning|error)' build/clippy.log

check:
	tests/run

bench:
	tools/bench $(BENCH_ARGS)

clean:
	$(KMAKE) clean
	rm -rf build

.PHONY: all modules clippy fmt fmtcheck lint check bench clean
