//! The device trait every backend implements.
//!
//! Methods take `&mut self`: a simulated device advances its model on every
//! access, and a real device's registers have side effects (a read of a
//! queue head, a write to a command register), so shared access would be a
//! lie. The trait is object-safe and `Send`, so a `Box<dyn Device>` can move
//! to the thread that owns the NIC.

use std::fmt;
use thiserror::Error;

/// Why a register access or DMA request failed.
#[derive(Debug, Error)]
pub enum DeviceError {
    /// The BAR does not exist or is not a memory BAR the backend mapped.
    #[error("{device}: BAR {bar} is not mapped (BARs present: {present})")]
    NoSuchBar {
        /// Device name.
        device: String,
        /// BAR index asked for.
        bar: u8,
        /// BARs that exist, e.g. "0, 2".
        present: String,
    },
    /// The offset is not a multiple of the access width.
    #[error("{device}: BAR {bar} offset {offset:#x} is not aligned to {width} bytes")]
    Misaligned {
        /// Device name.
        device: String,
        /// BAR index.
        bar: u8,
        /// Byte offset.
        offset: u64,
        /// Access width in bytes.
        width: u8,
    },
    /// The access does not fit inside the BAR.
    #[error("{device}: BAR {bar} access of {width} bytes at {offset:#x} is outside the BAR ({len:#x} bytes)")]
    OutOfRange {
        /// Device name.
        device: String,
        /// BAR index.
        bar: u8,
        /// Byte offset.
        offset: u64,
        /// Access width in bytes.
        width: u8,
        /// BAR length.
        len: u64,
    },
    /// The backend cannot do this (e.g. DMA on a register-only model).
    #[error("{device}: {what} is not supported by this backend")]
    Unsupported {
        /// Device name.
        device: String,
        /// The operation.
        what: &'static str,
    },
    /// A DMA buffer access outside the buffer.
    #[error("DMA buffer of {len} bytes: access of {count} bytes at {offset} is outside it")]
    DmaOutOfRange {
        /// Byte offset.
        offset: usize,
        /// Bytes asked for.
        count: usize,
        /// Buffer length.
        len: usize,
    },
    /// An operating-system call failed.
    #[error("{device}: {what}")]
    Io {
        /// Device name.
        device: String,
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Backend-specific failure (e.g. the simulator stopped).
    #[error("{device}: {message}")]
    Backend {
        /// Device name.
        device: String,
        /// What went wrong.
        message: String,
    },
}

/// Checks a `width`-byte access at `offset` against a BAR of `len` bytes.
/// Backends call this before touching memory, so every backend reports the
/// same typed errors.
pub fn check_access(
    device: &str,
    bar: u8,
    len: u64,
    offset: u64,
    width: u8,
) -> Result<(), DeviceError> {
    if !offset.is_multiple_of(width as u64) {
        return Err(DeviceError::Misaligned {
            device: device.to_string(),
            bar,
            offset,
            width,
        });
    }
    match offset.checked_add(width as u64) {
        Some(end) if end <= len => Ok(()),
        _ => Err(DeviceError::OutOfRange {
            device: device.to_string(),
            bar,
            offset,
            width,
            len,
        }),
    }
}

/// A buffer the device can reach by DMA at [`DmaBuffer::iova`].
///
/// The device may write it at any time, so it is never exposed as a Rust
/// slice: copies in and out are volatile.
pub trait DmaBuffer: Send + fmt::Debug {
    /// Bus address the device uses.
    fn iova(&self) -> u64;
    /// Length in bytes.
    fn len(&self) -> usize;
    /// True when the buffer has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies `out.len()` bytes at `offset` out of the buffer.
    fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), DeviceError>;
    /// Copies `data` into the buffer at `offset`.
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), DeviceError>;
}

/// Checks a DMA buffer copy of `count` bytes at `offset` against `len`.
pub fn check_dma(offset: usize, count: usize, len: usize) -> Result<(), DeviceError> {
    match offset.checked_add(count) {
        Some(end) if end <= len => Ok(()),
        _ => Err(DeviceError::DmaOutOfRange { offset, count, len }),
    }
}

/// Register access to one device.
pub trait Device: Send {
    /// A name for messages (PCI address, simulator name).
    fn name(&self) -> &str;
    /// Length in bytes of memory BAR `bar`.
    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError>;
    /// 32-bit read at byte `offset` of BAR `bar`.
    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError>;
    /// 32-bit write.
    fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError>;
    /// 64-bit read (one bus transaction, never split into two 32-bit reads).
    fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError>;
    /// 64-bit write (one bus transaction).
    fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError>;
    /// Allocates a DMA buffer of at least `len` bytes mapped for the device.
    fn dma_alloc(&mut self, len: usize) -> Result<Box<dyn DmaBuffer>, DeviceError> {
        let _ = len;
        Err(DeviceError::Unsupported {
            device: self.name().to_string(),
            what: "DMA buffer allocation",
        })
    }
}

/// Forwards every method, so `Box<dyn Device>` and `&mut D` are devices too
/// (a `Nic<&mut D>` borrows a device the caller keeps).
macro_rules! forward_device {
    ($($t:ty),*) => {$(
        impl<D: Device + ?Sized> Device for $t {
            fn name(&self) -> &str {
                (**self).name()
            }
            fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
                (**self).bar_len(bar)
            }
            fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
                (**self).read32(bar, offset)
            }
            fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError> {
                (**self).write32(bar, offset, value)
            }
            fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
                (**self).read64(bar, offset)
            }
            fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
                (**self).write64(bar, offset, value)
            }
            fn dma_alloc(&mut self, len: usize) -> Result<Box<dyn DmaBuffer>, DeviceError> {
                (**self).dma_alloc(len)
            }
        }
    )*};
}

forward_device!(Box<D>, &mut D);

/// A 64-bit register interface over a device whose bus is 32 bits wide (a
/// shell's 32-bit AXI4-Lite master): `read64` and `write64` become two 32-bit
/// accesses, low half then high half, the order `abi::regs` documents for a
/// 32-bit bus (a register is written on its high half; the read of the low
/// half latches the high half). So `Nic<Split32<D>>` works unchanged. Not
/// for concurrent users: the two halves of one access must not interleave
/// with another access to the register file.
pub struct Split32<D> {
    dev: D,
}

impl<D: Device> Split32<D> {
    /// Wraps a device with a 32-bit bus.
    pub fn new(dev: D) -> Self {
        Split32 { dev }
    }

    /// The wrapped device.
    pub fn get_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Unwraps the device.
    pub fn into_inner(self) -> D {
        self.dev
    }
}

impl<D: Device> Device for Split32<D> {
    fn name(&self) -> &str {
        self.dev.name()
    }
    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
        self.dev.bar_len(bar)
    }
    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
        self.dev.read32(bar, offset)
    }
    fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError> {
        self.dev.write32(bar, offset, value)
    }
    fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
        let len = self.dev.bar_len(bar)?;
        check_access(self.dev.name(), bar, len, offset, 8)?;
        let lo = self.dev.read32(bar, offset)?;
        let hi = self.dev.read32(bar, offset + 4)?;
        Ok(u64::from(hi) << 32 | u64::from(lo))
    }
    fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
        let len = self.dev.bar_len(bar)?;
        check_access(self.dev.name(), bar, len, offset, 8)?;
        self.dev.write32(bar, offset, value as u32)?;
        self.dev.write32(bar, offset + 4, (value >> 32) as u32)
    }
    fn dma_alloc(&mut self, len: usize) -> Result<Box<dyn DmaBuffer>, DeviceError> {
        self.dev.dma_alloc(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_checks() {
        assert!(check_access("d", 0, 0x1000, 0xff8, 8).is_ok());
        assert!(matches!(
            check_access("d", 0, 0x1000, 0xffc, 8),
            Err(DeviceError::Misaligned { width: 8, .. })
        ));
        assert!(matches!(
            check_access("d", 0, 0x1000, 0x1000, 4),
            Err(DeviceError::OutOfRange { .. })
        ));
        assert!(matches!(
            check_access("d", 0, 0x1000, u64::MAX - 7, 8),
            Err(DeviceError::OutOfRange { .. })
        ));
        assert!(check_dma(4, 4, 8).is_ok());
        assert!(check_dma(5, 4, 8).is_err());
        assert!(check_dma(usize::MAX, 2, 8).is_err());
    }

    #[test]
    fn device_is_object_safe_and_send() {
        fn takes(_: Box<dyn Device>) {}
        fn is_send<T: Send>() {}
        is_send::<Box<dyn Device>>();
        let _ = takes;
    }
}
