//! A minimal growable array of `Copy` values.
//!
//! `alloc::vec::Vec` reports allocation failure through
//! `handle_alloc_error`, whose message formatting alone costs the component
//! about 3 KB of its 17.5 KB budget. `Buf` calls the global allocator directly
//! and treats failure as fatal without formatting anything: a wasm trap, or
//! `handle_alloc_error` on native targets where size does not matter.
//! Callers check sizes that could overflow beforehand (see `index::fits`)
//! and turn them into `Capacity` errors.

use alloc::alloc::{alloc, dealloc, realloc, Layout};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

pub struct Buf<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    cap: usize,
}

impl<T: Copy> Default for Buf<T> {
    fn default() -> Self {
        Buf {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
        }
    }
}

#[cold]
fn oom(layout: Layout) -> ! {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = layout;
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_arch = "wasm32"))]
    alloc::alloc::handle_alloc_error(layout)
}

/// The growth path shared by every element type (one copy in the binary):
/// returns the new block for `cap` elements of `size` bytes, moving the old
/// block of `old` elements if there was one.
#[inline(never)]
fn regrow(ptr: *mut u8, old: usize, cap: usize, size: usize, align: usize) -> *mut u8 {
    let bytes = cap.checked_mul(size).filter(|&b| b <= isize::MAX as usize);
    // SAFETY: `align` is the alignment of a Rust type; the size was checked
    // not to overflow `isize`, and is non-zero (cap >= 4, no ZSTs here). The
    // old block, if any, was allocated with `old * size` bytes and `align`.
    unsafe {
        let new = Layout::from_size_align_unchecked(
            bytes.unwrap_or_else(|| oom(Layout::new::<u8>())),
            align,
        );
        let p = if old == 0 {
            alloc(new)
        } else {
            realloc(
                ptr,
                Layout::from_size_align_unchecked(old * size, align),
                new.size(),
            )
        };
        if p.is_null() {
            oom(new)
        }
        p
    }
}

impl<T: Copy> Buf<T> {
    /// Makes room for `extra` more elements, at least doubling.
    #[inline]
    fn grow(&mut self, extra: usize) {
        let need = self.len.saturating_add(extra);
        if need > self.cap {
            let cap = need.max(2 * self.cap).max(4);
            let (size, align) = (core::mem::size_of::<T>(), core::mem::align_of::<T>());
            let p = regrow(self.ptr.as_ptr().cast(), self.cap, cap, size, align);
            // SAFETY: `regrow` never returns null.
            self.ptr = unsafe { NonNull::new_unchecked(p.cast()) };
            self.cap = cap;
        }
    }

    /// Room for `n` more elements; on an empty buffer with `n >= 4`, for
    /// exactly `n`, so that the block can later be freed knowing only its
    /// length (the component's post-return functions rely on that).
    pub fn reserve(&mut self, n: usize) {
        self.grow(n);
    }

    #[inline]
    pub fn push(&mut self, x: T) {
        if self.len == self.cap {
            self.grow(1);
        }
        // SAFETY: `len < cap` now.
        unsafe { self.ptr.as_ptr().add(self.len).write(x) };
        self.len += 1;
    }

    pub fn extend_from_slice(&mut self, s: &[T]) {
        self.grow(s.len());
        // SAFETY: `grow` made room for `s.len()` more; the regions cannot
        // overlap because `s` is borrowed immutably while `self` is not.
        unsafe {
            core::ptr::copy_nonoverlapping(s.as_ptr(), self.ptr.as_ptr().add(self.len), s.len())
        };
        self.len += s.len();
    }

    /// Grows to `n` elements filled with `x`, or truncates to `n`.
    pub fn resize(&mut self, n: usize, x: T) {
        if n > self.len {
            self.grow(n - self.len);
            while self.len < n {
                // SAFETY: `len < n <= cap`.
                unsafe { self.ptr.as_ptr().add(self.len).write(x) };
                self.len += 1;
            }
        }
        self.len = n.min(self.len);
    }

    pub fn pop(&mut self) -> Option<T> {
        self.len = self.len.checked_sub(1)?;
        // SAFETY: the element at the old `len - 1` is initialised.
        Some(unsafe { self.ptr.as_ptr().add(self.len).read() })
    }

    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Gives up ownership: pointer, length and capacity, for a caller that
    /// frees the block with `Layout::array::<T>(capacity)`.
    pub fn into_raw_parts(self) -> (*mut T, usize, usize) {
        let me = core::mem::ManuallyDrop::new(self);
        (me.ptr.as_ptr(), me.len, me.cap)
    }
}

/// The release path shared by every element type (one copy in the binary),
/// also used by the component for the lists it receives and hands out.
/// Does nothing when `bytes` is 0.
///
/// # Safety
/// A non-empty `ptr` must be a live block of the global allocator,
/// allocated with exactly `bytes` bytes and `align`.
#[inline(never)]
pub(crate) unsafe fn free(ptr: *mut u8, bytes: usize, align: usize) {
    if bytes > 0 {
        // SAFETY: the caller's contract.
        unsafe { dealloc(ptr, Layout::from_size_align_unchecked(bytes, align)) }
    }
}

impl<T: Copy> Drop for Buf<T> {
    fn drop(&mut self) {
        // SAFETY: a non-empty block was allocated by `regrow` for `cap`
        // elements of `T` (its size checked against overflow there).
        unsafe {
            free(
                self.ptr.as_ptr().cast(),
                self.cap * core::mem::size_of::<T>(),
                core::mem::align_of::<T>(),
            )
        }
    }
}

impl<T: Copy> Deref for Buf<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: the first `len` elements are initialised.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for Buf<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`; `&mut self` makes the borrow unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<'a, T: Copy> IntoIterator for &'a Buf<T> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Copy> Extend<T> for Buf<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let it = iter.into_iter();
        self.grow(it.size_hint().0);
        for x in it {
            self.push(x);
        }
    }
}

impl<T: Copy> FromIterator<T> for Buf<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut b = Buf::default();
        b.extend(iter);
        b
    }
}

// SAFETY: `Buf` owns its elements like `Vec` does.
unsafe impl<T: Copy + Send> Send for Buf<T> {}
// SAFETY: shared access only hands out `&[T]`.
unsafe impl<T: Copy + Sync> Sync for Buf<T> {}
