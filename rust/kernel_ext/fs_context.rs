// SPDX-License-Identifier: GPL-2.0

//! Mount contexts (`struct fs_context`) and their parameters (`linux/fs_parser.h`).
//!
//! The VFS serialises the operations on one context (`fc->uapi_mutex` for fsconfig(2); a
//! single caller for mount(2)), so the wrappers here hand out shared references and mutate
//! through them only where the C API does the same.

use super::cred::{Kgid, Kuid, UserNamespace};
use crate::bindings as local;
use core::{mem::MaybeUninit, ptr::NonNull};
use kernel::{
    bindings,
    error::{code::*, to_result},
    ffi::{c_char, c_void},
    prelude::*,
    str::CStr,
    types::Opaque,
};

/// A mount context (`struct fs_context`).
///
/// # Invariants
///
/// Instances are only handed out as references to a live context during one of its operations.
#[repr(transparent)]
pub(crate) struct FsContext(Opaque<local::fs_context>);

impl FsContext {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live context that outlives `'a`, and the caller must be running
    /// one of its (serialised) operations.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut local::fs_context) -> &'a Self {
        // SAFETY: `FsContext` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_raw(&self) -> *mut local::fs_context {
        self.0.get()
    }

    /// Whether this context reconfigures an existing mount (`FS_CONTEXT_FOR_RECONFIGURE`).
    pub(crate) fn is_reconfigure(&self) -> bool {
        // SAFETY: `purpose` is set at creation and never changes.
        let purpose = unsafe { (*self.as_raw()).purpose() };
        purpose == local::FS_CONTEXT_FOR_RECONFIGURE
    }

    /// Whether the context comes from the legacy mount(2) rather than fsopen(2).
    pub(crate) fn is_old_api(&self) -> bool {
        // SAFETY: `oldapi` is set at creation and never changes.
        unsafe { (*self.as_raw()).oldapi() }
    }

    /// The user namespace the mount will belong to.
    pub(crate) fn user_ns(&self) -> &UserNamespace {
        // SAFETY: The context holds a reference on its user namespace for its whole life.
        unsafe { UserNamespace::from_raw((*self.as_raw()).user_ns) }
    }

    /// Whether a source has been set.
    pub(crate) fn has_source(&self) -> bool {
        // SAFETY: Operations on the context are serialised (type invariant).
        !unsafe { (*self.as_raw()).source }.is_null()
    }

    /// Sets the mount's source (what `/proc/mounts` shows first); the context frees it.
    pub(crate) fn set_source(&self, source: ParamString) {
        // SAFETY: Operations on the context are serialised; `source` was allocated with
        // `kmalloc()`, which is what `put_fs_context()` frees it with.
        unsafe { (*self.as_raw()).source = source.into_raw() };
    }

    /// Logs an error for the user: to the context's log (read back by fsopen(2) users) or, for
    /// mount(2), to the kernel log, prefixed by the file system's name (C's `errorfc()`).
    pub(crate) fn error(&self, msg: &CStr) {
        // SAFETY: `log` is set at creation; `logfc()` accepts a NULL log (it then prints to the
        // kernel log) and copies or prints the message right away.
        unsafe {
            let log = &(*self.as_raw()).log;
            local::logfc(
                log.log,
                log.prefix,
                b'e',
                kernel::c_str!("%s").as_char_ptr(),
                msg.as_char_ptr(),
            );
        }
    }

    /// [`Self::error`], then `EINVAL` (C's `invalfc()`).
    pub(crate) fn invalid(&self, msg: &CStr) -> Error {
        self.error(msg);
        EINVAL
    }

    /// Looks `param` up in `table` and converts its value (C's `fs_parse()`).
    ///
    /// Fails with `ENOPARAM` for a key that is not in the table (the VFS then tries its
    /// generic options), or `EINVAL` with a logged message for a bad value.
    pub(crate) fn parse(&self, table: Params, param: &FsParameter) -> Result<ParseResult> {
        let mut result = MaybeUninit::<local::fs_parse_result>::zeroed();
        // SAFETY: The context and parameter are live (type invariants); `table` ends with a
        // sentinel (`Params` invariant); `result` is writable.
        let opt = unsafe {
            local::__fs_parse(
                &mut (*self.as_raw()).log,
                table.0,
                param.as_raw(),
                result.as_mut_ptr(),
            )
        };
        to_result(opt)?;
        Ok(ParseResult {
            opt: opt as u32,
            // SAFETY: Zero-initialised above and possibly filled in by `__fs_parse()`.
            value: unsafe { result.assume_init() },
        })
    }
}

/// One mount parameter (`struct fs_parameter`): a key and its value.
///
/// # Invariants
///
/// Instances are only handed out as references to a live parameter during `parse_param`.
#[repr(transparent)]
pub(crate) struct FsParameter(Opaque<local::fs_parameter>);

impl FsParameter {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live parameter that outlives `'a` and is not used elsewhere
    /// meanwhile.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut local::fs_parameter) -> &'a Self {
        // SAFETY: `FsParameter` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut local::fs_parameter {
        self.0.get()
    }

    /// Takes the parameter's string value, leaving NULL behind (as C code does with
    /// `param->string = NULL`).
    ///
    /// Only for parameters that the table declares as strings.
    pub(crate) fn take_string(&self) -> Option<ParamString> {
        // SAFETY: The parameter is live and ours during the call (type invariant); a string
        // parameter's value is a `kmalloc()`ed, NUL-terminated string or NULL.
        unsafe {
            let p = &mut (*self.as_raw()).__bindgen_anon_1.string;
            let s = NonNull::new(*p)?;
            *p = core::ptr::null_mut();
            Some(ParamString(s))
        }
    }
}

/// A NUL-terminated string allocated with `kmalloc()`, taken from a mount parameter.
///
/// # Invariants
///
/// `self.0` points to a NUL-terminated string allocated with `kmalloc()` and owned by `self`.
pub(crate) struct ParamString(NonNull<c_char>);

// SAFETY: The string is owned and immutable; it may be freed from any thread.
unsafe impl Send for ParamString {}
// SAFETY: As above; shared references only read it.
unsafe impl Sync for ParamString {}

impl ParamString {
    /// Gives up ownership: the caller must `kfree()` the pointer.
    pub(crate) fn into_raw(self) -> *const c_char {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl Drop for ParamString {
    fn drop(&mut self) {
        // SAFETY: Allocated with `kmalloc()` and owned by `self` (type invariant).
        unsafe { bindings::kfree(self.0.as_ptr().cast::<c_void>()) };
    }
}

/// The outcome of [`FsContext::parse`]: which table entry matched and its converted value.
pub(crate) struct ParseResult {
    opt: u32,
    value: local::fs_parse_result,
}

impl ParseResult {
    /// The `opt` number of the table entry that matched.
    pub(crate) fn opt(&self) -> u32 {
        self.opt
    }

    /// The value of a uid parameter: a valid uid of the caller's user namespace.
    pub(crate) fn uid(&self) -> Kuid {
        // SAFETY: As in `uint_32`.
        Kuid(unsafe { *self.value.__bindgen_anon_1.uid.as_ref() })
    }

    /// The value of a gid parameter: a valid gid of the caller's user namespace.
    pub(crate) fn gid(&self) -> Kgid {
        // SAFETY: As in `uint_32`.
        Kgid(unsafe { *self.value.__bindgen_anon_1.gid.as_ref() })
    }

    /// The value of a `u32` (decimal or octal) parameter.
    pub(crate) fn uint_32(&self) -> u32 {
        // SAFETY: Every variant of the union is plain old data and it was zero-initialised, so
        // reading this one is defined whatever the parameter's type.
        unsafe { *self.value.__bindgen_anon_1.uint_32.as_ref() }
    }
}

/// One entry of a parameter table (`struct fs_parameter_spec`, C's `fsparam_*()` macros).
#[repr(transparent)]
pub(crate) struct ParamSpec(local::fs_parameter_spec);

impl ParamSpec {
    const fn with(
        name: &'static CStr,
        opt: u8,
        kind: local::fs_param_type,
        data: *const c_void,
    ) -> Self {
        // SAFETY: All-zero is a valid `fs_parameter_spec`.
        let mut spec: local::fs_parameter_spec = unsafe { MaybeUninit::zeroed().assume_init() };
        spec.name = name.as_char_ptr();
        spec.opt = opt;
        spec.type_ = kind;
        spec.data = data;
        Self(spec)
    }

    /// A flag without a value (`fsparam_flag`).
    pub(crate) const fn flag(name: &'static CStr, opt: u8) -> Self {
        Self::with(name, opt, None, core::ptr::null())
    }

    /// A decimal `u32` (`fsparam_u32`).
    pub(crate) const fn u32(name: &'static CStr, opt: u8) -> Self {
        Self::with(name, opt, Some(local::fs_param_is_u32), core::ptr::null())
    }

    /// An octal `u32` (`fsparam_u32oct`).
    pub(crate) const fn u32_octal(name: &'static CStr, opt: u8) -> Self {
        // The base is passed in the data pointer, as `fsparam_u32oct` does.
        Self::with(name, opt, Some(local::fs_param_is_u32), 8 as *const c_void)
    }

    /// A uid of the caller's user namespace, which must be valid (`fsparam_uid`).
    pub(crate) const fn uid(name: &'static CStr, opt: u8) -> Self {
        Self::with(name, opt, Some(local::fs_param_is_uid), core::ptr::null())
    }

    /// A gid of the caller's user namespace, which must be valid (`fsparam_gid`).
    pub(crate) const fn gid(name: &'static CStr, opt: u8) -> Self {
        Self::with(name, opt, Some(local::fs_param_is_gid), core::ptr::null())
    }

    /// A string (`fsparam_string`).
    pub(crate) const fn string(name: &'static CStr, opt: u8) -> Self {
        Self::with(
            name,
            opt,
            Some(local::fs_param_is_string),
            core::ptr::null(),
        )
    }

    /// The terminating entry of a table.
    const END: Self = {
        // SAFETY: All-zero is the terminating `fs_parameter_spec`.
        Self(unsafe { MaybeUninit::zeroed().assume_init() })
    };
}

/// A parameter table: `N` [`ParamSpec`] entries followed by the terminating entry.
///
/// `#[repr(C)]` lays `end` out right after `specs` (same type, so no padding), which makes the
/// table the NUL-terminated array that C expects.
#[repr(C)]
pub(crate) struct ParamTable<const N: usize> {
    specs: [ParamSpec; N],
    end: ParamSpec,
}

impl<const N: usize> ParamTable<N> {
    /// Builds a table of `specs` and the terminating entry.
    pub(crate) const fn new(specs: [ParamSpec; N]) -> Self {
        Self {
            specs,
            end: ParamSpec::END,
        }
    }

    /// A pointer to the table, for [`FsContext::parse`] and `file_system_type.parameters`.
    pub(crate) const fn params(&'static self) -> Params {
        // INVARIANT: The table is terminated by `end` and is `'static`.
        Params((self as *const Self).cast())
    }
}

/// A pointer to a `'static` [`ParamTable`].
///
/// # Invariants
///
/// Points to a `'static`, immutable table that ends with a sentinel entry.
#[derive(Clone, Copy)]
pub(crate) struct Params(*const local::fs_parameter_spec);

// SAFETY: The table it points to is immutable and `'static` (type invariant).
unsafe impl Sync for Params {}
// SAFETY: As above.
unsafe impl Send for Params {}

impl Params {
    /// The C table, typed as `kernel::bindings` sees it (opaque there).
    pub(crate) const fn as_kernel_ptr(self) -> *const bindings::fs_parameter_spec {
        self.0.cast()
    }
}
