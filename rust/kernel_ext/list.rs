// SPDX-License-Identifier: GPL-2.0

//! Helpers for `kernel::list`.
//!
//! C headers: [`include/linux/list.h`](srctree/include/linux/list.h)

use kernel::list::{List, ListArc, ListItem};

/// Takes the first item of `list` that `pred` accepts out of it, walking from the front:
/// the safe counterpart of the `unsafe` `List::remove()`, whose caller must know that the
/// item is in no other list of the same id. O(n): for short lists, or ones whose items
/// usually leave from the front.
///
/// # Examples
///
/// ```ignore
/// // Take an item out by identity.
/// let taken = take_where(&mut list, |i| core::ptr::eq(i, item));
/// ```
pub(crate) fn take_where<T: ?Sized + ListItem<ID>, const ID: u64>(
    list: &mut List<T, ID>,
    pred: impl Fn(&T) -> bool,
) -> Option<ListArc<T, ID>> {
    let mut cursor = list.cursor_front();
    while let Some(c) = cursor {
        if pred(&c.current()) {
            return Some(c.remove());
        }
        cursor = c.next();
    }
    None
}
