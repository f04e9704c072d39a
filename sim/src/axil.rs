//! AXI4-Lite register access over a clocked model, shared by [`crate::SimNic`]
//! and [`crate::SimFastpathNic`] (the same register file behind both), and
//! the `driver::Device` methods built on it.

use abi::regs::REG_WINDOW_BYTES;
use driver::{check_access, DeviceError};

/// The AXI4-Lite inputs of one clock (csrc/nic_run.h `FpAxilIn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AxilIn {
    pub wdata: u64,
    pub awaddr: u16,
    pub araddr: u16,
    pub awvalid: u8,
    pub wvalid: u8,
    pub wstrb: u8,
    pub bready: u8,
    pub arvalid: u8,
    pub rready: u8,
    pub _pad: [u8; 6],
}

/// The AXI4-Lite outputs sampled before that clock's rising edge
/// (csrc/nic_run.h `FpAxilOut`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AxilOut {
    pub rdata: u64,
    pub awready: u8,
    pub wready: u8,
    pub bvalid: u8,
    pub bresp: u8,
    pub arready: u8,
    pub rvalid: u8,
    pub rresp: u8,
    pub _pad: u8,
}

/// A model whose clock can be run with given AXI4-Lite inputs.
pub(crate) trait AxilPort {
    /// Runs one clock with `i` on the register port.
    fn axil_cycle(&mut self, i: &AxilIn) -> AxilOut;
    /// Clocks run since creation.
    fn now(&self) -> u64;
}

/// The cycles that bound one completed access.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub issued_at: u64,
    pub accepted_at: u64,
    pub done_at: u64,
}

/// Why an access failed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Failure {
    /// No response within the cycle budget.
    Timeout,
    /// A response other than OKAY.
    Resp(u8),
}

/// One write of the 8-byte word at `addr` with strobes `strb`.
pub(crate) fn write<P: AxilPort>(
    p: &mut P,
    addr: u64,
    data: u64,
    strb: u8,
    timeout: u64,
) -> Result<Timing, Failure> {
    let issued_at = p.now();
    let mut i = AxilIn {
        awaddr: addr as u16,
        wdata: data,
        wstrb: strb,
        awvalid: 1,
        wvalid: 1,
        bready: 1,
        ..AxilIn::default()
    };
    let mut accepted_at = None;
    for _ in 0..timeout {
        let now = p.now();
        let (aw, w) = (i.awvalid, i.wvalid);
        let out = p.axil_cycle(&i);
        if aw != 0 && out.awready != 0 {
            i.awvalid = 0;
        }
        if w != 0 && out.wready != 0 {
            i.wvalid = 0;
        }
        if accepted_at.is_none() && i.awvalid == 0 && i.wvalid == 0 {
            accepted_at = Some(now);
            continue;
        }
        if let Some(accepted_at) = accepted_at {
            if out.bvalid != 0 {
                return if out.bresp == 0 {
                    Ok(Timing {
                        issued_at,
                        accepted_at,
                        done_at: now,
                    })
                } else {
                    Err(Failure::Resp(out.bresp))
                };
            }
        }
    }
    Err(Failure::Timeout)
}

/// One read of the 8-byte word at `addr`.
pub(crate) fn read<P: AxilPort>(
    p: &mut P,
    addr: u64,
    timeout: u64,
) -> Result<(u64, Timing), Failure> {
    let issued_at = p.now();
    let mut i = AxilIn {
        araddr: addr as u16,
        arvalid: 1,
        rready: 1,
        ..AxilIn::default()
    };
    let mut accepted_at = None;
    for _ in 0..timeout {
        let now = p.now();
        let ar = i.arvalid;
        let out = p.axil_cycle(&i);
        if ar != 0 && out.arready != 0 {
            i.arvalid = 0;
            accepted_at = Some(now);
            continue;
        }
        if let Some(accepted_at) = accepted_at {
            if out.rvalid != 0 {
                return if out.rresp == 0 {
                    Ok((
                        out.rdata,
                        Timing {
                            issued_at,
                            accepted_at,
                            done_at: now,
                        },
                    ))
                } else {
                    Err(Failure::Resp(out.rresp))
                };
            }
        }
    }
    Err(Failure::Timeout)
}

/// The message of a failed write.
pub(crate) fn write_message(addr: u64, f: Failure, timeout: u64) -> String {
    match f {
        Failure::Timeout => format!("AXI write to {addr:#x}: no response within {timeout} cycles"),
        Failure::Resp(r) => format!("AXI write to {addr:#x} answered {r} (not OKAY)"),
    }
}

/// The message of a failed read.
pub(crate) fn read_message(addr: u64, f: Failure, timeout: u64) -> String {
    match f {
        Failure::Timeout => format!("AXI read of {addr:#x}: no data within {timeout} cycles"),
        Failure::Resp(r) => format!("AXI read of {addr:#x} answered {r} (not OKAY)"),
    }
}

/// Checks a `driver::Device` access: BAR 0, inside the register window.
pub(crate) fn check(name: &str, bar: u8, offset: u64, width: u8) -> Result<(), DeviceError> {
    if bar != 0 {
        return Err(DeviceError::NoSuchBar {
            device: name.to_string(),
            bar,
            present: "0".to_string(),
        });
    }
    check_access(name, bar, REG_WINDOW_BYTES, offset, width)
}

/// Implements `driver::Device` for a type with `name(&self) -> &str`,
/// `axi_read(&mut self, addr) -> Result<u64, DeviceError>` and
/// `axi_write(&mut self, addr, data, strb) -> Result<(), DeviceError>`:
/// BAR 0 is the register window, 32-bit accesses are one lane of the 64-bit
/// bus.
macro_rules! device_over_axil {
    ($t:ty) => {
        impl driver::Device for $t {
            fn name(&self) -> &str {
                &self.name
            }

            fn bar_len(&self, bar: u8) -> Result<u64, driver::DeviceError> {
                $crate::axil::check(&self.name, bar, 0, 1)?;
                Ok(abi::regs::REG_WINDOW_BYTES)
            }

            fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, driver::DeviceError> {
                $crate::axil::check(&self.name, bar, offset, 4)?;
                let lane = (offset & 4) * 8;
                Ok((self.axi_read(offset & !7)? >> lane) as u32)
            }

            fn write32(
                &mut self,
                bar: u8,
                offset: u64,
                value: u32,
            ) -> Result<(), driver::DeviceError> {
                $crate::axil::check(&self.name, bar, offset, 4)?;
                let lane = offset & 4;
                self.axi_write(offset & !7, (value as u64) << (lane * 8), 0x0f << lane)
            }

            fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, driver::DeviceError> {
                $crate::axil::check(&self.name, bar, offset, 8)?;
                self.axi_read(offset)
            }

            fn write64(
                &mut self,
                bar: u8,
                offset: u64,
                value: u64,
            ) -> Result<(), driver::DeviceError> {
                $crate::axil::check(&self.name, bar, offset, 8)?;
                self.axi_write(offset, value, 0xff)
            }
        }
    };
}
pub(crate) use device_over_axil;
