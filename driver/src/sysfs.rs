//! Sysfs backend: a PCI function's memory BARs mapped through
//! `/sys/bus/pci/devices/BDF/resourceN`, with no driver of ours bound.
//!
//! This is how table programming coexists with a shell's own kernel driver
//! (OpenNIC's `onic` netdev, Corundum's `mqnic`): the shell's driver owns the
//! queues and the netdev, we own our register blocks inside its BAR. There is
//! no DMA here (the shell's driver does it), so [`Device::dma_alloc`] is
//! unsupported. Needs root (the kernel allows `resourceN` mmap to
//! `CAP_SYS_ADMIN` only), and a kernel that does not lock BARs of bound
//! drivers (`iomem=relaxed`, the default without lockdown).

use crate::device::{check_access, Device, DeviceError};
use crate::vfio::{resolve, PciAddress, VfioError, VfioOptions, BAR_COUNT};
use memmap2::{MmapOptions, MmapRaw};
use std::fs::{self, OpenOptions};
use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// `IORESOURCE_MEM` in the flags column of sysfs `resource`
/// (include/linux/ioport.h): a memory BAR, the only kind `resourceN` maps.
const IORESOURCE_MEM: u64 = 0x200;

/// Why a PCI function's BARs could not be mapped through sysfs.
#[derive(Debug, Error)]
pub enum SysfsError {
    /// The device string names no PCI function.
    #[error(transparent)]
    Locate(#[from] VfioError),
    /// A sysfs attribute (`resource`, `vendor`, `device`) could not be parsed.
    #[error("{path}: line {line}: {why}")]
    BadAttribute {
        /// The `resource` file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The function has no memory BAR at all.
    #[error("{address} has no memory BAR to map (see {path})")]
    NoMemoryBar {
        /// The address.
        address: PciAddress,
        /// The `resource` file.
        path: PathBuf,
    },
    /// Opening `resourceN` was refused.
    #[error(
        "permission denied opening {path}: mapping a BAR through sysfs needs root (CAP_SYS_ADMIN)"
    )]
    Permission {
        /// The `resourceN` file.
        path: PathBuf,
    },
    /// Opening or mapping `resourceN` failed otherwise.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: io::Error,
    },
}

/// One BAR: mapped, or why not.
enum Bar {
    Mapped {
        map: MmapRaw,
        len: u64,
    },
    /// An I/O BAR or an unused one.
    Absent,
}

/// A PCI function whose memory BARs are mapped through sysfs.
pub struct SysfsDevice {
    name: String,
    dir: PathBuf,
    bars: Vec<Bar>,
}

impl std::fmt::Debug for SysfsDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysfsDevice")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `(len, is_memory)` per BAR from the sysfs `resource` table: one line per
/// resource, `start end flags` in hex; the first six lines are the BARs.
fn parse_resources(text: &str, path: &std::path::Path) -> Result<Vec<(u64, bool)>, SysfsError> {
    let bad = |line: usize, why: String| SysfsError::BadAttribute {
        path: path.to_path_buf(),
        line,
        why,
    };
    let mut bars = Vec::new();
    for (i, line) in text.lines().take(BAR_COUNT as usize).enumerate() {
        let cols: Vec<u64> = line
            .split_whitespace()
            .map(|c| u64::from_str_radix(c.trim_start_matches("0x"), 16))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(i + 1, format!("{line:?} is not three hex numbers: {e}")))?;
        let [start, end, flags] = cols[..] else {
            return Err(bad(
                i + 1,
                format!("{line:?} has {} columns, not 3", cols.len()),
            ));
        };
        let len = if end > start { end - start + 1 } else { 0 };
        bars.push((len, flags & IORESOURCE_MEM != 0));
    }
    Ok(bars)
}

impl SysfsDevice {
    /// Maps every memory BAR of `device` (PCI address or sysfs path).
    pub fn open(device: &str) -> Result<SysfsDevice, SysfsError> {
        Self::open_with(device, &VfioOptions::default())
    }

    /// As [`SysfsDevice::open`], with the sysfs root of `opts`.
    pub fn open_with(device: &str, opts: &VfioOptions) -> Result<SysfsDevice, SysfsError> {
        let (address, dir) = resolve(device, opts)?;
        let table = dir.join("resource");
        let text = fs::read_to_string(&table).map_err(|source| SysfsError::Io {
            what: "reading",
            path: table.clone(),
            source,
        })?;
        let mut bars = Vec::new();
        for (bar, (len, mem)) in parse_resources(&text, &table)?.into_iter().enumerate() {
            let path = dir.join(format!("resource{bar}"));
            if !mem || len == 0 || !path.exists() {
                bars.push(Bar::Absent);
                continue;
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|source| match source.kind() {
                    io::ErrorKind::PermissionDenied => {
                        SysfsError::Permission { path: path.clone() }
                    }
                    _ => SysfsError::Io {
                        what: "opening",
                        path: path.clone(),
                        source,
                    },
                })?;
            let map = MmapOptions::new()
                .len(len as usize)
                .map_raw(&file)
                .map_err(|source| SysfsError::Io {
                    what: "mapping",
                    path: path.clone(),
                    source,
                })?;
            bars.push(Bar::Mapped { map, len });
        }
        if !bars.iter().any(|b| matches!(b, Bar::Mapped { .. })) {
            return Err(SysfsError::NoMemoryBar {
                address,
                path: table,
            });
        }
        Ok(SysfsDevice {
            name: address.to_string(),
            dir,
            bars,
        })
    }

    /// Vendor and device ID from the sysfs `vendor` and `device` attributes.
    pub fn ids(&self) -> Result<(u16, u16), SysfsError> {
        let id = |attr: &str| {
            let path = self.dir.join(attr);
            let text = fs::read_to_string(&path).map_err(|source| SysfsError::Io {
                what: "reading",
                path: path.clone(),
                source,
            })?;
            u16::from_str_radix(text.trim().trim_start_matches("0x"), 16).map_err(|e| {
                SysfsError::BadAttribute {
                    path,
                    line: 1,
                    why: format!("{:?} is not a 16-bit hex ID: {e}", text.trim()),
                }
            })
        };
        Ok((id("vendor")?, id("device")?))
    }

    fn locate(&self, bar: u8, offset: u64, width: u8) -> Result<*mut u8, DeviceError> {
        match self.bars.get(bar as usize) {
            Some(Bar::Mapped { map, len }) => {
                check_access(&self.name, bar, *len, offset, width)?;
                // In bounds: check_access proved offset + width <= len.
                Ok(map.as_mut_ptr().wrapping_add(offset as usize))
            }
            _ => Err(DeviceError::NoSuchBar {
                device: self.name.clone(),
                bar,
                present: self.present(),
            }),
        }
    }

    fn present(&self) -> String {
        let v: Vec<String> = (self.bars.iter().enumerate())
            .filter(|(_, b)| matches!(b, Bar::Mapped { .. }))
            .map(|(i, _)| i.to_string())
            .collect();
        v.join(", ")
    }
}

impl Device for SysfsDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
        match self.bars.get(bar as usize) {
            Some(Bar::Mapped { len, .. }) => Ok(*len),
            _ => Err(DeviceError::NoSuchBar {
                device: self.name.clone(),
                bar,
                present: self.present(),
            }),
        }
    }

    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
        let p = self.locate(bar, offset, 4)?;
        // SAFETY: locate() checked bounds and alignment inside a shared
        // mapping of the BAR that lives as long as `self`; MMIO is touched
        // only by volatile accesses of the register's width.
        Ok(unsafe { (p as *const u32).read_volatile() })
    }

    fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError> {
        let p = self.locate(bar, offset, 4)?;
        // SAFETY: as in read32.
        unsafe { (p as *mut u32).write_volatile(value) };
        Ok(())
    }

    fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
        let p = self.locate(bar, offset, 8)?;
        // SAFETY: as in read32, for 8 bytes: one 64-bit load.
        Ok(unsafe { (p as *const u64).read_volatile() })
    }

    fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
        let p = self.locate(bar, offset, 8)?;
        // SAFETY: as in read64.
        unsafe { (p as *mut u64).write_volatile(value) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_table_parses_memory_and_io_bars() {
        let text = "0x00000000fe000000 0x00000000fe0fffff 0x0000000000040200\n\
                    0x000000000000c000 0x000000000000c01f 0x0000000000040101\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
        let bars = parse_resources(text, std::path::Path::new("resource")).expect("parses");
        assert_eq!(bars, vec![(0x10_0000, true), (0x20, false), (0, false)]);
        let err = parse_resources("0x1 0x2\n", std::path::Path::new("r")).unwrap_err();
        assert!(err.to_string().contains("2 columns"), "{err}");
        let err = parse_resources("0x1 zz 0x3\n", std::path::Path::new("r")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn a_fake_sysfs_tree_maps_its_resource_file() {
        // A regular file stands in for resourceN: mmap works on it the same.
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("bus/pci/devices/0000:00:04.0");
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("config"), [0u8; 64]).expect("config");
        fs::write(dir.join("vendor"), "0x1af4\n").expect("vendor");
        fs::write(dir.join("device"), "0x1110\n").expect("device");
        fs::write(
            dir.join("resource"),
            "0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
             0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
             0x00000000fd000000 0x00000000fd000fff 0x0000000000040200\n",
        )
        .expect("resource");
        fs::write(dir.join("resource2"), [0u8; 4096]).expect("resource2");
        let opts = VfioOptions {
            sysfs_root: root.path().to_path_buf(),
            dev_root: PathBuf::from("/dev"),
        };
        let mut dev = SysfsDevice::open_with("0000:00:04.0", &opts).expect("open");
        assert_eq!(dev.bar_len(2).expect("len"), 4096);
        assert_eq!(dev.ids().expect("ids"), (0x1af4, 0x1110));
        dev.write64(2, 8, 0x0123_4567_89ab_cdef).expect("write");
        assert_eq!(dev.read32(2, 8).expect("read"), 0x89ab_cdef);
        drop(dev);
        let back = fs::read(dir.join("resource2")).expect("read back");
        assert_eq!(&back[8..16], &0x0123_4567_89ab_cdefu64.to_le_bytes());
        let mut dev = SysfsDevice::open_with("0000:00:04.0", &opts).expect("reopen");
        assert!(matches!(
            dev.read32(0, 0),
            Err(DeviceError::NoSuchBar { .. })
        ));
        assert!(matches!(
            dev.read32(2, 4096),
            Err(DeviceError::OutOfRange { .. })
        ));
        assert!(matches!(
            SysfsDevice::open_with("0000:00:05.0", &opts),
            Err(SysfsError::Locate(VfioError::NoSuchDevice { .. }))
        ));
    }
}
