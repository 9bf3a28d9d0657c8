// SPDX-License-Identifier: GPL-2.0

//! Sequential files (`struct seq_file`), as used by `/proc/mounts`.

use crate::bindings as local;
use kernel::{bindings, str::CStr, types::Opaque};

/// A `seq_file` being written.
///
/// # Invariants
///
/// Instances are only handed out as references to a live `seq_file` during a show callback.
#[repr(transparent)]
pub(crate) struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live `seq_file`, used only by the caller during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Appends `s` (`seq_puts()`).
    pub(crate) fn puts(&self, s: &CStr) {
        // SAFETY: The seq_file is live and ours for the callback; `s` is NUL-terminated.
        unsafe { local::__seq_puts(self.0.get(), s.as_char_ptr()) };
    }
}
