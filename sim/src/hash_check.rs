//! The hash unit twice — the emitted `fastpath_hash_unit` Verilated on its
//! own, and the stand-in that replaces its copies in the fast model — so
//! tests can prove them equal (`sim/tests/hash_standin.rs`).

use std::ptr::NonNull;

#[repr(C)]
struct FpHashUnit {
    _private: [u8; 0],
}

extern "C" {
    fn fpsim_hash_unit_new() -> *mut FpHashUnit;
    fn fpsim_hash_unit_free(h: *mut FpHashUnit);
    fn fpsim_hash_unit_eval(h: *mut FpHashUnit, key: *const u64, mask: *const u64) -> u32;
    fn fpsim_hash_standin(words: *const u64) -> u32;
}

/// The Verilated `fastpath_hash_unit` (the exact RTL of every hash unit in
/// `fastpath_top`; sim/build.rs checks the copies are identical).
pub struct ExactHashUnit {
    raw: NonNull<FpHashUnit>,
}

impl std::fmt::Debug for ExactHashUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactHashUnit").finish_non_exhaustive()
    }
}

impl ExactHashUnit {
    /// A fresh unit; `None` if the model cannot be created.
    pub fn new() -> Option<ExactHashUnit> {
        // SAFETY: no arguments; returns an owned object or null.
        NonNull::new(unsafe { fpsim_hash_unit_new() }).map(|raw| ExactHashUnit { raw })
    }

    /// `hash` of the unit for `key`/`mask` held over its two-cycle latency.
    pub fn hash(&mut self, key: &[u64; 8], mask: &[u64; 8]) -> u32 {
        // SAFETY: live unit; both arrays hold the 8 words the C side reads.
        unsafe { fpsim_hash_unit_eval(self.raw.as_ptr(), key.as_ptr(), mask.as_ptr()) }
    }
}

impl Drop for ExactHashUnit {
    fn drop(&mut self) {
        // SAFETY: `raw` came from fpsim_hash_unit_new and is freed once.
        unsafe { fpsim_hash_unit_free(self.raw.as_ptr()) }
    }
}

/// The fast model's stand-in (the DPI-C function its hash units call) on
/// the already masked input.
pub fn standin_hash(masked: &[u64; 8]) -> u32 {
    // SAFETY: reads exactly the 8 words of `masked`; no other state.
    unsafe { fpsim_hash_standin(masked.as_ptr()) }
}
