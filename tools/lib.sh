# shellcheck shell=bash
# Common settings for the rust_fuse tools: sourced, not run.
#
# RUST_FUSE_CACHE   where the kernel source and builds live (outside the repo);
#                   default ~/.cache/rust_fuse
# KDIR              use this kernel build instead of the cached one
# RF_FLAVOUR        which kernel: `test` (default: the debug options of
#                   .config.fragment) or `bench` (the same kernel without
#                   them, tools/kconfig/bench.config, for benchmarks)

RF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RF_CACHE=${RUST_FUSE_CACHE:-$HOME/.cache/rust_fuse}
RF_FLAVOUR=${RF_FLAVOUR:-test}
RF_LLVM=/usr/lib/llvm-19/bin
export PATH="$RF_LLVM:$HOME/.cargo/bin:$PATH"

rf_log() { printf '%s\n' "rust_fuse: $*" >&2; }
rf_die() { rf_log "error: $*"; exit 1; }

# The Debian source package version of linux-source-6.12, e.g. 6.12.117-1~deb12u1.
rf_kernel_pkgver() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null
}

# Where the unpacked kernel source lives, keyed by the package version.
rf_kernel_src() {
	echo "$RF_CACHE/src/linux-$(rf_kernel_pkgver)"
}

# The config files of the flavour, in the order they apply: a later line for
# a symbol overrides an earlier one (see rf_kernel_config).
rf_kernel_config_files() {
	echo "$RF_ROOT/tools/kconfig/vm.config" "$RF_ROOT/.config.fragment"
	case "$RF_FLAVOUR" in
	test) ;;
	bench) echo "$RF_ROOT/tools/kconfig/bench.config" ;;
	*) rf_die "RF_FLAVOUR must be test or bench, not $RF_FLAVOUR" ;;
	esac
}

# The requested CONFIG_ lines of the flavour, the last one of each symbol.
rf_kernel_config() {
	# shellcheck disable=SC2046
	grep -h '^CONFIG_' $(rf_kernel_config_files) |
		awk -F= '{ if (!($1 in v)) order[n++] = $1; v[$1] = $0 } END { for (i = 0; i < n; i++) print v[order[i]] }'
}

# A key for the kernel build: the kernel version, the config files, the
# recipe and the toolchain. A change to any of them means a new build dir.
# (The test flavour's key is computed as it always was, so that its cached
# builds stay valid.)
rf_kernel_key() {
	{
		rf_kernel_pkgver
		# shellcheck disable=SC2046
		cat $(rf_kernel_config_files)
		[ "$RF_FLAVOUR" = test ] || echo "flavour $RF_FLAVOUR"
		sed -n '/^# recipe:/p' "$RF_ROOT/tools/build-kernel"
		rustc --version
		clang --version | head -n 1
		bindgen --version
	} | sha256sum | cut -c1-12
}

# The kernel build directory (O=) for the current key, or $KDIR if set.
rf_kdir() {
	if [ -n "${KDIR:-}" ]; then
		echo "$KDIR"
	else
		local suffix=
		[ "$RF_FLAVOUR" = test ] || suffix=-$RF_FLAVOUR
		echo "$RF_CACHE/kbuild/$(rf_kernel_pkgver | sed 's/[^0-9A-Za-z.]/_/g')$suffix-$(rf_kernel_key)"
	fi
}

# Where rust_fuse.ko is built for the flavour's kernel: the work tree for the
# test kernel (`make`), a copy of the sources under build/ for another, since
# 6.12's kbuild builds an external module in its source directory.
rf_module_dir() {
	case "$RF_FLAVOUR" in
	test) echo "$RF_ROOT" ;;
	*) echo "$RF_ROOT/build/kmod-$RF_FLAVOUR" ;;
	esac
}

# Builds rust_fuse.ko against KDIR ($1) for the flavour; prints its path.
rf_build_module() {
	local dir
	dir=$(rf_module_dir)
	if [ "$dir" != "$RF_ROOT" ]; then
		mkdir -p "$dir"
		rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
			--exclude='*.mod*' --exclude='*.rmeta' --exclude='*.d' --exclude='bindings_generated.rs' \
			"$RF_ROOT/rust" "$dir/" >/dev/null
		cp "$RF_ROOT/Kbuild" "$RF_ROOT/Makefile" "$dir/"
		mkdir -p "$dir/tools"
		cp "$RF_ROOT/tools/build-kernel" "$RF_ROOT/tools/lib.sh" "$dir/tools/"
	fi
	make -s -C "$dir" KDIR="$1" modules >&2 || return 1
	echo "$dir/rust_fuse.ko"
}

# Builds rust_fuse.ko of git revision $1 (its own sources, outside the work
# tree) against KDIR ($2), once; prints its path. For before/after benchmarks.
rf_build_baseline() {
	local rev base
	rev=$(git -C "$RF_ROOT" rev-parse --short "$1") || return 1
	base=$RF_ROOT/build/kmod-base-$RF_FLAVOUR-$rev
	if [ ! -f "$base/rust_fuse.ko" ]; then
		rm -rf "$base" && mkdir -p "$base"
		git -C "$RF_ROOT" archive "$rev" Kbuild Makefile rust tools/build-kernel tools/lib.sh |
			tar -x -C "$base" || return 1
		make -s -C "$base" KDIR="$2" modules >&2 || return 1
	fi
	echo "$base/rust_fuse.ko"
}

# Make in the kernel build directory with the project's toolchain settings.
rf_kmake() {
	make -C "$(rf_kdir)" ARCH=x86_64 LLVM=1 "$@"
}
