// SPDX-License-Identifier: GPL-2.0

//! A vector of plain values whose first `N` elements live inside it, for lists that are
//! short on the fast path and must not cost an allocation there (6.12's `kernel` crate has
//! only heap vectors).

use kernel::{
    alloc::{allocator::Kmalloc, Allocator, Flags, Vec},
    prelude::*,
};

/// Up to `N` elements inside, more on the heap: going past `N` moves them all to a [`Vec`]
/// of allocator `A`, which then grows as usual (doubling).
///
/// The elements are `Copy`, so that none needs dropping; the unused inline slots hold a fill
/// value given at creation.
///
/// # Invariants
///
/// Until `heap` is `Some`, the elements are `inline[..len]`; after that, all of `heap`.
///
/// # Examples
///
/// ```ignore
/// let mut v = InlineVec::<u32, 2>::new(0);
/// v.push(1, GFP_KERNEL)?;
/// v.push(2, GFP_KERNEL)?; // still inline
/// v.push(3, GFP_KERNEL)?; // now on the heap
/// v.truncate(1);
/// assert_eq!(v.as_slice(), &[1]);
/// ```
pub(crate) struct InlineVec<T: Copy, const N: usize, A: Allocator = Kmalloc> {
    inline: [T; N],
    len: usize,
    heap: Option<Vec<T, A>>,
}

impl<T: Copy, const N: usize, A: Allocator> InlineVec<T, N, A> {
    /// An empty vector; `fill` is what the unused inline slots hold.
    pub(crate) const fn new(fill: T) -> Self {
        Self {
            inline: [fill; N],
            len: 0,
            heap: None,
        }
    }

    /// An empty vector with room for `n` elements: on the heap only if `n` is more than `N`.
    pub(crate) fn with_capacity(fill: T, n: usize, flags: Flags) -> Result<Self> {
        let mut v = Self::new(fill);
        if n > N {
            v.heap = Some(Vec::with_capacity(n, flags)?);
        }
        Ok(v)
    }

    /// The elements.
    pub(crate) fn as_slice(&self) -> &[T] {
        match &self.heap {
            Some(h) => h,
            None => &self.inline[..self.len],
        }
    }

    /// The elements, to change.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.heap {
            Some(h) => h,
            None => &mut self.inline[..self.len],
        }
    }

    /// The number of elements.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Appends `v`; fails only if the heap cannot grow, leaving the vector as it was.
    pub(crate) fn push(&mut self, v: T, flags: Flags) -> Result {
        if let Some(h) = &mut self.heap {
            return Ok(h.push(v, flags)?);
        }
        self.extend_from_slice(core::slice::from_ref(&v), flags)
    }

    /// Appends `more`; fails only if the heap cannot grow, leaving the vector as it was.
    pub(crate) fn extend_from_slice(&mut self, more: &[T], flags: Flags) -> Result {
        if self.heap.is_none() && self.len + more.len() <= N {
            self.inline[self.len..self.len + more.len()].copy_from_slice(more);
            self.len += more.len();
            return Ok(());
        }
        Ok(self
            .heap(more.len(), flags)?
            .extend_from_slice(more, flags)?)
    }

    /// The heap vector, with room for `more` elements: made (with at least twice the inline
    /// room) and given the inline elements first if there is none yet. For filling it in
    /// place.
    pub(crate) fn heap(&mut self, more: usize, flags: Flags) -> Result<&mut Vec<T, A>> {
        let h = match self.heap.take() {
            Some(h) => h,
            None => {
                let mut h = Vec::with_capacity((self.len + more).max(2 * N), flags)?;
                h.extend_from_slice(&self.inline[..self.len], flags)?;
                h
            }
        };
        let h = self.heap.insert(h);
        h.reserve(more, flags)?;
        Ok(h)
    }

    /// Shortens the vector to `len` elements (a longer `len` changes nothing).
    pub(crate) fn truncate(&mut self, len: usize) {
        match &mut self.heap {
            None => self.len = self.len.min(len),
            Some(h) if len < h.len() => {
                // SAFETY: `len` is less than the length, and `T: Copy` needs no drop.
                unsafe { h.set_len(len) };
            }
            Some(_) => {}
        }
    }
}
