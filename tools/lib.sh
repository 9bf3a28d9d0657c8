# shellcheck shell=bash
# Common settings for the rust_fuse tools: sourced, not run.
#
# RUST_FUSE_CACHE   where the kernel source and builds live (outside the repo);
#                   default ~/.cache/rust_fuse
# KDIR              use this kernel build instead of the cached one

RF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RF_CACHE=${RUST_FUSE_CACHE:-$HOME/.cache/rust_fuse}
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

# A key for the kernel build: the kernel version, both config files, the
# recipe and the toolchain. A change to any of them means a new build dir.
rf_kernel_key() {
	{
		rf_kernel_pkgver
		cat "$RF_ROOT/tools/kconfig/vm.config" "$RF_ROOT/.config.fragment"
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
		echo "$RF_CACHE/kbuild/$(rf_kernel_pkgver | sed 's/[^0-9A-Za-z.]/_/g')-$(rf_kernel_key)"
	fi
}

# Make in the kernel build directory with the project's toolchain settings.
rf_kmake() {
	make -C "$(rf_kdir)" ARCH=x86_64 LLVM=1 "$@"
}
