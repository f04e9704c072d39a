//! fastpath NIC driver.
//!
//! Three layers, each usable alone:
//! - [`Device`]: bounds-checked register access to a device's BARs and DMA
//!   buffers. Backends: [`vfio`] (a real PCI function through VFIO) and the
//!   simulated NIC in the `sim` crate (the RTL's AXI4-Lite port).
//! - [`Nic`]: the table-programming API over any [`Device`]: capability
//!   check, masks, EMC and megaflow entries (host-side hashing and cuckoo
//!   placement against a shadow copy of each table), counters, the miss queue
//!   and reset. It speaks only [`abi`] encodings.
//! - [`HostQueues`]: the host queue pair as descriptor rings in host memory
//!   ([`abi::hostring`]) over any [`Device`] with DMA buffers.
//! - [`vfio`]: opens a PCI function bound to `vfio-pci`, maps its BARs and
//!   maps DMA buffers through the IOMMU.
//! - [`sysfs`]: maps the memory BARs of a function another driver owns (a
//!   shell's netdev) through sysfs `resourceN`, for table programming only.

#![warn(missing_docs)]
// Only the VFIO and sysfs backends touch raw memory (MMIO and DMA mappings).
#![deny(unsafe_code)]

pub mod device;
pub mod heapdma;
pub mod hostq;
pub mod nic;
mod shadow;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub mod sysfs;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub mod vfio;

pub use device::{check_access, check_dma, Device, DeviceError, DmaBuffer, Split32};
pub use heapdma::HeapDma;
pub use hostq::{HostQueueConfig, HostQueueError, HostQueueStats, HostQueues, HOSTQ_BURST};
pub use nic::{
    stats_bytes_mask, EmcPolicy, EntryStats, GlobalCounters, Install, MfEntry, Miss, Nic, NicError,
    DEFAULT_POLL_LIMIT, MAX_CUCKOO_PATH,
};
