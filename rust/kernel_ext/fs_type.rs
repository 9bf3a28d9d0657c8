// SPDX-License-Identifier: GPL-2.0

//! File system types (`struct file_system_type`) mounted through an `fs_context`.
//!
//! An [`FsType`] is a `static` (as in C: the VFS links it into its list and lockdep needs its
//! lock class keys in static memory); registering it returns an [`FsRegistration`] that
//! unregisters it when dropped. Each mount attempt gets a fresh [`FileSystem::Context`], kept
//! in `fc->fs_private` until the VFS frees the context.

use super::{
    fs_context::{FsContext, FsParameter, Params},
    registration::RegistrationFlag,
};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit};
use kernel::{
    bindings,
    error::{from_result, to_result},
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
};

/// A file system type mounted through the fs_context API.
pub(crate) trait FileSystem: Sized + Sync + 'static {
    /// The state of one mount attempt: the parsed parameters.
    type Context: Send;

    /// The type's name, as in `mount -t NAME` and `/proc/filesystems`.
    const NAME: &'static CStr;

    /// `FS_*` flags (`file_system_type.fs_flags`).
    const FLAGS: u32;

    /// The parameter table, shown to fsconfig(2) users and used by [`FsContext::parse`].
    const PARAMS: Params;

    /// Creates the state of a new mount attempt.
    fn init_context(fc: &FsContext) -> Result<Self::Context>;

    /// Handles one parameter (`fs_context_operations.parse_param`).
    fn parse_param(fc: &FsContext, ctx: &mut Self::Context, param: &FsParameter) -> Result;

    /// Creates or finds the super block and sets the mount's root
    /// (`fs_context_operations.get_tree`).
    fn get_tree(fc: &FsContext, ctx: &mut Self::Context) -> Result;
}

/// The C description of the [`FileSystem`] `T`; build it in a `static` with [`fs_type!`].
pub(crate) struct FsType<T> {
    fs: Opaque<bindings::file_system_type>,
    registered: RegistrationFlag,
    _t: PhantomData<T>,
}

// SAFETY: The C structure is only written by `register_filesystem()`/`unregister_filesystem()`
// (kept to one registration at a time by `registered`) and by the VFS under its own locks.
unsafe impl<T> Sync for FsType<T> {}

impl<T: FileSystem> FsType<T> {
    /// Describes `T`; use [`fs_type!`], which passes this module as `owner`.
    ///
    /// `kill_sb` is `kill_anon_super()`, what the super blocks of `get_tree_nodev()` need.
    ///
    /// # Safety
    ///
    /// `owner` must be this module's `struct module`: the VFS pins it while a super block of
    /// the type exists, and the type's callbacks are this module's code.
    pub(crate) const unsafe fn new(owner: *mut bindings::module) -> Self {
        // SAFETY: All-zero is a valid `file_system_type`.
        let mut fs: bindings::file_system_type = unsafe { MaybeUninit::zeroed().assume_init() };
        fs.name = T::NAME.as_char_ptr();
        fs.fs_flags = T::FLAGS as c_int;
        fs.init_fs_context = Some(init_fs_context_callback::<T>);
        fs.parameters = T::PARAMS.as_kernel_ptr();
        fs.kill_sb = Some(bindings::kill_anon_super);
        fs.owner = owner;
        Self {
            fs: Opaque::new(fs),
            registered: RegistrationFlag::new(),
            _t: PhantomData,
        }
    }

    /// Registers the type; fails with `EBUSY` if a type of the same name is registered.
    pub(crate) fn register(&'static self) -> Result<FsRegistration> {
        self.registered.register(|| {
            // SAFETY: `fs` is static, fully initialised and not registered (the flag); it stays
            // valid until `unregister_filesystem()` in `FsRegistration::drop`.
            to_result(unsafe { bindings::register_filesystem(self.fs.get()) })
        })?;
        Ok(FsRegistration {
            fs: self.fs.get(),
            registered: &self.registered,
        })
    }
}

/// Builds an [`FsType`] for `$t` owned by this module; use it in a `static`.
macro_rules! fs_type {
    ($t:ty) => {{
        let owner = $crate::kernel_ext::module::this_module!();
        // SAFETY: `owner` is this module's `struct module`.
        unsafe { $crate::kernel_ext::fs_type::FsType::<$t>::new(owner) }
    }};
}
pub(crate) use fs_type;

/// A registered [`FsType`]; dropping it unregisters the type.
pub(crate) struct FsRegistration {
    fs: *mut bindings::file_system_type,
    registered: &'static RegistrationFlag,
}

// SAFETY: The pointer is to a `static` `FsType`; unregistering may happen on any thread.
unsafe impl Send for FsRegistration {}
// SAFETY: No method takes `&self`.
unsafe impl Sync for FsRegistration {}

impl Drop for FsRegistration {
    fn drop(&mut self) {
        // SAFETY: Registered by `FsType::register()` and unregistered only here. The module
        // cannot be unloading while a super block of this type exists (each holds a module
        // reference through `owner`), so nothing uses the type after this.
        unsafe { bindings::unregister_filesystem(self.fs) };
        self.registered.unregistered();
    }
}

/// The context operations of `T`, in a promoted `'static` constant.
struct ContextOps<T>(PhantomData<T>);

impl<T: FileSystem> ContextOps<T> {
    const OPS: local::fs_context_operations = local::fs_context_operations {
        free: Some(free_callback::<T>),
        dup: None,
        parse_param: Some(parse_param_callback::<T>),
        parse_monolithic: None,
        get_tree: Some(get_tree_callback::<T>),
        reconfigure: None,
    };
}

/// Borrows `T`'s state of a context.
///
/// # Safety
///
/// `fc` must be a live context of `T` set up by `init_fs_context_callback`, during one of its
/// (serialised) operations, and the state must not be borrowed elsewhere meanwhile.
unsafe fn context_state<'a, T: FileSystem>(fc: *mut local::fs_context) -> &'a mut T::Context {
    // SAFETY: `fs_private` holds a `KBox<T::Context>` from `into_foreign()` (caller's
    // guarantee); operations on a context are serialised, so this is the only borrow.
    unsafe { &mut *(*fc).fs_private.cast::<T::Context>() }
}

/// `file_system_type.init_fs_context` of `T`.
///
/// # Safety
///
/// Called by the VFS with a new context of `T`'s type.
unsafe extern "C" fn init_fs_context_callback<T: FileSystem>(
    fc: *mut bindings::fs_context,
) -> c_int {
    let fc = fc.cast::<local::fs_context>();
    from_result(|| {
        // SAFETY: The VFS passes a new, live context during its creation.
        let ctx = T::init_context(unsafe { FsContext::from_raw(fc) })?;
        let ctx = KBox::new(ctx, GFP_KERNEL)?;
        // SAFETY: The context is new and not shared yet; `free_callback` takes the state back.
        unsafe {
            (*fc).fs_private = ctx.into_foreign() as *mut c_void;
            (*fc).ops = &ContextOps::<T>::OPS;
        }
        Ok(0)
    })
}

/// `fs_context_operations.free` of `T`.
///
/// # Safety
///
/// Called by the VFS once, last, with a context set up by `init_fs_context_callback::<T>`.
unsafe extern "C" fn free_callback<T: FileSystem>(fc: *mut local::fs_context) {
    // SAFETY: The VFS calls `free` once, last, on a context set up by `init_fs_context_callback`
    // (it sets `ops` only together with `fs_private`).
    let state = unsafe { (*fc).fs_private };
    // SAFETY: `state` came from `KBox::into_foreign()` and nothing borrows it any more.
    drop(unsafe { <KBox<T::Context>>::try_from_foreign(state) });
}

/// `fs_context_operations.parse_param` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live context of `T` and a live parameter, serialised with the
/// context's other operations.
unsafe extern "C" fn parse_param_callback<T: FileSystem>(
    fc: *mut local::fs_context,
    param: *mut local::fs_parameter,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live context of `T` and a live parameter during a serialised
        // operation.
        let (ctx, fc, param) = unsafe {
            (
                context_state::<T>(fc),
                FsContext::from_raw(fc),
                FsParameter::from_raw(param),
            )
        };
        T::parse_param(fc, ctx, param)?;
        Ok(0)
    })
}

/// `fs_context_operations.get_tree` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live context of `T`, serialised with its other operations.
unsafe extern "C" fn get_tree_callback<T: FileSystem>(fc: *mut local::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live context of `T` during a serialised operation.
        let (ctx, fc) = unsafe { (context_state::<T>(fc), FsContext::from_raw(fc)) };
        T::get_tree(fc, ctx)?;
        Ok(0)
    })
}
