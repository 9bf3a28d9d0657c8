// SPDX-License-Identifier: GPL-2.0

//! Error codes that 6.12's `kernel::error::code` does not declare.
//!
//! 6.12's [`kernel::error::Error`] cannot be built in a `const`, so each code is a function.

use kernel::{bindings, error::Error};

macro_rules! declare_errno {
    ($($name:ident => $errno:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        #[allow(dead_code)]
        pub(crate) fn $name() -> Error {
            Error::from_errno(-(bindings::$errno as i32))
        }
    )*};
}

declare_errno! {
    enosys => ENOSYS, "Function not implemented (`ENOSYS`).";
    enotconn => ENOTCONN, "Transport endpoint is not connected (`ENOTCONN`).";
    econnaborted => ECONNABORTED, "Software caused connection abort (`ECONNABORTED`).";
    eopnotsupp => EOPNOTSUPP, "Operation not supported (`EOPNOTSUPP`).";
    eproto => EPROTO, "Protocol error (`EPROTO`).";
    enametoolong => ENAMETOOLONG, "File name too long (`ENAMETOOLONG`).";
    eoverflow => EOVERFLOW, "Value too large (`EOVERFLOW`).";
    econnrefused => ECONNREFUSED, "Connection refused (`ECONNREFUSED`).";
    enobufs => ENOBUFS, "No buffer space available (`ENOBUFS`).";
}

/// `ENOTEMPTY`, which 6.12's `kernel::error::code` lacks.
pub(crate) fn enotempty() -> Error {
    Error::from_errno(-(bindings::ENOTEMPTY as i32))
}
