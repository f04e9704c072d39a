//! Large tables backed by transparent huge pages.
//!
//! A 1M-megaflow map spans ~100 MiB; with 4 KiB pages nearly every random
//! lookup also misses the TLB and pays a page walk, which batching cannot
//! hide as well as a plain cache miss. Asking for huge pages (Linux
//! `MADV_HUGEPAGE`; a no-op elsewhere or when THP is disabled) before the
//! memory is first touched lets the kernel back it with 2 MiB pages.

/// Below this, huge pages cannot help (one 2 MiB page).
const HUGE: usize = 2 << 20;

/// A boxed slice of `n` values from `f`, huge-page backed when large.
pub(crate) fn boxed_slice<T>(n: usize, f: impl FnMut() -> T) -> Box<[T]> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    advise_huge(v.as_ptr().cast(), n * size_of::<T>());
    v.extend(std::iter::repeat_with(f).take(n));
    v.into_boxed_slice()
}

fn advise_huge(p: *const u8, bytes: usize) {
    if bytes < HUGE {
        return;
    }
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        const PAGE: usize = 4096;
        let start = (p as usize).next_multiple_of(PAGE);
        let end = (p as usize + bytes) & !(PAGE - 1);
        if end > start {
            // SAFETY: madvise only changes how the kernel backs pages of this
            // range (never their contents or validity); the range lies
            // inside an allocation we own. A failure (e.g. THP disabled) only
            // means 4 KiB pages, so the result is ignored.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    #[test]
    fn boxed_slice_fills_in_order() {
        let mut i = 0u32;
        let b = super::boxed_slice(1 << 20, || {
            i += 1;
            i
        });
        assert_eq!(b.len(), 1 << 20);
        assert_eq!((b[0], b[(1 << 20) - 1]), (1, 1 << 20));
    }
}
