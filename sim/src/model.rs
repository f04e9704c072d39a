//! The Verilated model behind a safe handle: one call per clock cycle.

use std::ffi::CString;
use std::os::raw::c_char;
use std::path::Path;
use std::ptr::NonNull;

/// Opaque C++ simulator state (`FpSim` in csrc/model.h).
#[repr(C)]
pub struct FpSim {
    _private: [u8; 0],
}

#[allow(dead_code, missing_docs, clippy::missing_safety_doc)]
mod ports {
    use super::FpSim;
    include!(concat!(env!("OUT_DIR"), "/ports.rs"));
}
pub use ports::PORTS;

/// Inputs held during one clock cycle (csrc/cycle.h `FpCycleIn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CycleIn {
    /// Lookup key words.
    pub lk_key: [u64; 8],
    /// AXI write data.
    pub wdata: u64,
    /// Lookup tag.
    pub lk_tag: u32,
    /// AXI write address.
    pub awaddr: u16,
    /// AXI read address.
    pub araddr: u16,
    /// Synchronous reset.
    pub reset: u8,
    /// Lookup valid.
    pub lk_valid: u8,
    /// Result ready.
    pub res_ready: u8,
    /// AXI write address valid.
    pub awvalid: u8,
    /// AXI write data valid.
    pub wvalid: u8,
    /// AXI write strobes.
    pub wstrb: u8,
    /// AXI write response ready.
    pub bready: u8,
    /// AXI read address valid.
    pub arvalid: u8,
    /// AXI read data ready.
    pub rready: u8,
    pub(crate) _pad: [u8; 7],
}

/// Outputs sampled just before a rising edge (csrc/cycle.h `FpCycleOut`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CycleOut {
    /// Result word.
    pub res_word: u64,
    /// AXI read data.
    pub rdata: u64,
    /// Result tag.
    pub res_tag: u32,
    /// Result hash.
    pub res_hash: u32,
    /// Lookup ready.
    pub lk_ready: u8,
    /// Result valid.
    pub res_valid: u8,
    /// AXI write address ready.
    pub awready: u8,
    /// AXI write data ready.
    pub wready: u8,
    /// AXI write response valid.
    pub bvalid: u8,
    /// AXI write response.
    pub bresp: u8,
    /// AXI read address ready.
    pub arready: u8,
    /// AXI read data valid.
    pub rvalid: u8,
    /// AXI read response.
    pub rresp: u8,
    pub(crate) _pad: [u8; 7],
}

const _: () = assert!(std::mem::size_of::<CycleIn>() == 96);
const _: () = assert!(std::mem::size_of::<CycleOut>() == 40);

extern "C" {
    fn fpsim_new(vcd_path: *const c_char, half_period_ps: u64) -> *mut FpSim;
    fn fpsim_free(m: *mut FpSim);
    fn fpsim_eval(m: *mut FpSim);
    fn fpsim_flush(m: *mut FpSim);
    fn fpsim_cycle(m: *mut FpSim, input: *const CycleIn, output: *mut CycleOut);
}

/// One Verilated `fastpath_top`, owned exclusively.
pub struct Model {
    raw: NonNull<FpSim>,
}

// SAFETY: the model is a plain C++ object graph owned by this handle alone;
// it is only ever used through `&mut self`, never from two threads at once,
// and Verilator binds its context to the calling thread on each `eval`.
unsafe impl Send for Model {}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").finish_non_exhaustive()
    }
}

impl Model {
    /// Creates the model (clock low, evaluated once); with `vcd`, every
    /// cycle is written to that file. `None` if the file cannot be opened.
    pub fn new(vcd: Option<&Path>, half_period_ps: u64) -> Option<Model> {
        let path = match vcd {
            Some(p) => Some(CString::new(p.as_os_str().as_encoded_bytes()).ok()?),
            None => None,
        };
        let ptr = path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
        // SAFETY: `ptr` is null or a NUL-terminated string that outlives the
        // call; fpsim_new copies what it keeps.
        let raw = unsafe { fpsim_new(ptr, half_period_ps) };
        NonNull::new(raw).map(|raw| Model { raw })
    }

    /// One clock cycle: applies `input` with the clock low, settles, samples
    /// the outputs, then raises the clock.
    #[inline]
    pub fn cycle(&mut self, input: &CycleIn) -> CycleOut {
        let mut out = CycleOut::default();
        // SAFETY: `raw` is live (owned by self); both structs match the C
        // layout (checked sizes, same field order and types).
        unsafe { fpsim_cycle(self.raw.as_ptr(), input, &mut out) };
        out
    }

    /// Re-evaluates the model without a clock edge.
    pub fn eval(&mut self) {
        // SAFETY: live model.
        unsafe { fpsim_eval(self.raw.as_ptr()) }
    }

    /// Flushes the waveform file, if any.
    pub fn flush(&mut self) {
        // SAFETY: live model.
        unsafe { fpsim_flush(self.raw.as_ptr()) }
    }

    /// Current value of any port (see [`PORTS`]) as 32-bit words, least
    /// significant first; `None` for an unknown name.
    pub fn peek(&self, name: &str) -> Option<Vec<u32>> {
        let &(_, _, width) = PORTS.iter().find(|(n, _, _)| *n == name)?;
        let mut out = vec![0u32; (width as usize).div_ceil(32).max(2)];
        // SAFETY: live model; `out` is sized from the port's width.
        let ok = unsafe { ports::peek_port(self.raw.as_ptr(), name, &mut out) };
        out.truncate((width as usize).div_ceil(32));
        ok.then_some(out)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: `raw` came from fpsim_new and is freed exactly once.
        unsafe { fpsim_free(self.raw.as_ptr()) }
    }
}
