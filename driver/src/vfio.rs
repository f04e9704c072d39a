//! VFIO backend: a PCI function bound to `vfio-pci`, driven from user space.
//!
//! Crate choices, and why:
//! - `pci-driver` opens the container with the device's group
//!   (`VfioContainer::new`), opens the device in that same container
//!   (`VfioPciDevice::open_in_container`), gives config space and BARs as
//!   regions whose reads and writes fail loudly (`io::Result`), maps memory
//!   BARs, and maps DMA through the container's type-1 IOMMU
//!   (`PciIommu::map`). One container holds the device and its DMA, so a
//!   buffer stays mapped for as long as it holds the container.
//! - Register accesses on a mapped BAR are our own `read_volatile` /
//!   `write_volatile` of the exact width on the mapping's pointer: a 64-bit
//!   register is one 8-byte load or store (one TLP), which pci-driver's
//!   region accessors (at most 32 bits) cannot give; no Rust reference ever
//!   covers MMIO. BARs VFIO will not let us map use the region accessors.
//! - `memmap2` allocates the anonymous memory of DMA buffers.
//! - `vfio-ioctls` is no longer used: everything it did for us pci-driver
//!   does with loud errors, and one crate owning the container avoids two
//!   owners of one exclusive group fd.
//!
//! All checks that can be made from sysfs are made before touching
//! `/dev/vfio`, so every usual misconfiguration gets a typed error with the
//! commands that fix it. The sysfs and `/dev` roots are injectable for tests.

use crate::device::{check_access, check_dma, Device, DeviceError, DmaBuffer};
use memmap2::{MmapOptions, MmapRaw};
use pci_driver::backends::vfio::{VfioContainer, VfioPciDevice};
use pci_driver::device::PciDevice;
use pci_driver::regions::{
    AsPciSubregion, MappedOwningPciRegion, OwningPciRegion, PciRegion, Permissions,
};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use thiserror::Error;

/// Number of standard PCI BARs.
pub const BAR_COUNT: u8 = 6;
/// PCI config space: command register offset and its memory-space and
/// bus-master enable bits (PCI Local Bus spec 6.2.2).
const PCI_COMMAND: u64 = 0x04;
const PCI_COMMAND_MEMORY: u16 = 1 << 1;
const PCI_COMMAND_MASTER: u16 = 1 << 2;
/// Lowest IOVA handed out (see [`first_iova`]).
const IOVA_BASE: u64 = 0x10_0000;

/// A PCI address `domain:bus:device.function`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PciAddress {
    /// PCI domain (segment).
    pub domain: u16,
    /// Bus.
    pub bus: u8,
    /// Device (0..32).
    pub device: u8,
    /// Function (0..8).
    pub function: u8,
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl FromStr for PciAddress {
    type Err = VfioError;

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (domain 0), hex digits.
    fn from_str(s: &str) -> Result<Self, VfioError> {
        let bad = |why: &str| VfioError::BadAddress {
            input: s.to_string(),
            why: why.to_string(),
        };
        let hex = |t: &str, digits: usize, what: &str| -> Result<u32, VfioError> {
            if t.is_empty() || t.len() > digits || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(&format!("{what} {t:?} is not 1..={digits} hex digits")));
            }
            u32::from_str_radix(t, 16).map_err(|_| bad(&format!("{what} {t:?} is not hex")))
        };
        let parts: Vec<&str> = s.split(':').collect();
        let (domain, bus, devfn) = match parts.as_slice() {
            [d, b, df] => (hex(d, 4, "domain")?, *b, *df),
            [b, df] => (0, *b, *df),
            _ => return Err(bad("expected DDDD:BB:DD.F, e.g. 0000:03:00.0")),
        };
        let bus = hex(bus, 2, "bus")?;
        let (dev, func) = devfn
            .split_once('.')
            .ok_or_else(|| bad("missing \".function\" after the device number"))?;
        let device = hex(dev, 2, "device")?;
        let function = hex(func, 1, "function")?;
        if device >= 32 {
            return Err(bad(&format!("device {device:#x} is above 0x1f")));
        }
        if function >= 8 {
            return Err(bad(&format!("function {function} is above 7")));
        }
        Ok(PciAddress {
            domain: domain as u16,
            bus: bus as u8,
            device: device as u8,
            function: function as u8,
        })
    }
}

/// Why a VFIO device could not be opened.
#[derive(Debug, Error)]
pub enum VfioError {
    /// The device string is not a PCI address.
    #[error("{input:?} is not a PCI address: {why}")]
    BadAddress {
        /// What was given.
        input: String,
        /// What is wrong.
        why: String,
    },
    /// A sysfs path that is not a PCI function's directory.
    #[error("{path} is not a PCI device directory: {why} (expected e.g. /sys/bus/pci/devices/0000:03:00.0)")]
    NotPciDevice {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// No such PCI function.
    #[error("no PCI device {address} ({path} does not exist); list devices with `lspci -D`")]
    NoSuchDevice {
        /// The address.
        address: PciAddress,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The function is bound to another driver, or to none.
    #[error("{address} ({id}) is {}, not to vfio-pci. Bind it with:\n  modprobe vfio-pci\n{}  echo vfio-pci > /sys/bus/pci/devices/{address}/driver_override\n  echo {address} > /sys/bus/pci/drivers_probe",
        match driver { Some(d) => format!("bound to {d}"), None => "bound to no driver".to_string() },
        match driver { Some(_) => format!("  echo {address} > /sys/bus/pci/devices/{address}/driver/unbind\n"), None => String::new() })]
    NotBound {
        /// The address.
        address: PciAddress,
        /// `vendor:device` IDs from sysfs.
        id: String,
        /// Current driver.
        driver: Option<String>,
    },
    /// The function has no IOMMU group: the IOMMU is off.
    #[error("{address} has no IOMMU group: the IOMMU is disabled. Boot with intel_iommu=on (Intel) or amd_iommu=on (AMD), plus iommu=pt, and enable VT-d/AMD-Vi in the firmware")]
    NoIommu {
        /// The address.
        address: PciAddress,
    },
    /// Another device of the IOMMU group is bound to a host driver.
    #[error("IOMMU group {group} is not viable: {} must be bound to vfio-pci or no driver (unbind them the same way, or move the card to another slot)",
        offenders.iter().map(|(a, d)| format!("{a} (bound to {d})")).collect::<Vec<_>>().join(", "))]
    GroupNotViable {
        /// Group number.
        group: u32,
        /// `(address, driver)` of each offending device.
        offenders: Vec<(String, String)>,
    },
    /// A VFIO device node is missing.
    #[error("{path} does not exist: load the VFIO driver (`modprobe vfio-pci`)")]
    NoVfioNode {
        /// The node.
        path: PathBuf,
    },
    /// A VFIO device node cannot be opened for lack of permission.
    #[error("permission denied opening {path}: run as root, or give your user the group node (`chown $USER {path}`, or a udev rule SUBSYSTEM==\"vfio\", OWNER=\"youruser\"), and raise the locked-memory limit (`ulimit -l`) for DMA")]
    Permission {
        /// The node.
        path: PathBuf,
    },
    /// The group is open elsewhere.
    #[error(
        "{path} is busy: another process (a VM, another driver instance) holds the VFIO group"
    )]
    GroupBusy {
        /// The node.
        path: PathBuf,
    },
    /// Reading sysfs or opening a node failed otherwise.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// OS error.
        #[source]
        source: io::Error,
    },
    /// A VFIO ioctl failed.
    #[error("{address}: {step}")]
    Vfio {
        /// The address.
        address: PciAddress,
        /// The step.
        step: &'static str,
        /// The error from the VFIO ioctl.
        #[source]
        source: io::Error,
    },
    /// Mapping a BAR or accessing config space failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// Where sysfs and the device nodes are (tests point these at a temp dir).
#[derive(Clone, Debug)]
pub struct VfioOptions {
    /// sysfs mount point, `/sys`.
    pub sysfs_root: PathBuf,
    /// devtmpfs mount point, `/dev`.
    pub dev_root: PathBuf,
}

impl Default for VfioOptions {
    fn default() -> Self {
        VfioOptions {
            sysfs_root: PathBuf::from("/sys"),
            dev_root: PathBuf::from("/dev"),
        }
    }
}

/// The result of the sysfs checks: everything needed to open the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VfioTarget {
    /// PCI address.
    pub address: PciAddress,
    /// sysfs directory of the function.
    pub sysfs_path: PathBuf,
    /// IOMMU group number.
    pub group: u32,
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> VfioError {
    let path = path.to_path_buf();
    move |source| VfioError::Io { what, path, source }
}

fn link_name(path: &Path) -> Option<String> {
    fs::read_link(path)
        .ok()
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Drivers under which a group device does not stop the group being viable:
/// the kernel also accepts `pci-stub` and bridges held by `pcieport`.
fn driver_is_vfio_safe(driver: Option<&str>) -> bool {
    matches!(
        driver,
        None | Some("vfio-pci") | Some("pci-stub") | Some("pcieport")
    )
}

/// Resolves `device`, a PCI address or a sysfs path, to its address and
/// sysfs directory; the directory exists and is a PCI function's.
pub fn resolve(device: &str, opts: &VfioOptions) -> Result<(PciAddress, PathBuf), VfioError> {
    if device.contains('/') {
        let given = PathBuf::from(device);
        let dir = fs::canonicalize(&given).map_err(|e| VfioError::NotPciDevice {
            path: given.clone(),
            why: format!("cannot resolve it: {e}"),
        })?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let address: PciAddress = name.parse().map_err(|_| VfioError::NotPciDevice {
            path: given.clone(),
            why: format!("its name {name:?} is not a PCI address"),
        })?;
        if !dir.join("config").is_file() || !dir.join("vendor").is_file() {
            return Err(VfioError::NotPciDevice {
                path: given,
                why: "it has no config and vendor attributes".into(),
            });
        }
        Ok((address, dir))
    } else {
        let address: PciAddress = device.parse()?;
        let dir = opts
            .sysfs_root
            .join("bus/pci/devices")
            .join(address.to_string());
        if !dir.exists() {
            return Err(VfioError::NoSuchDevice { address, path: dir });
        }
        Ok((address, dir))
    }
}

/// Resolves `device` (a PCI address or a sysfs path) and checks, from sysfs
/// alone, that it can be opened through VFIO: bound to vfio-pci, in an IOMMU
/// group whose other members are all harmless.
pub fn check(device: &str, opts: &VfioOptions) -> Result<VfioTarget, VfioError> {
    let (address, dir) = resolve(device, opts)?;
    let read_id = |attr: &str| {
        fs::read_to_string(dir.join(attr))
            .map(|s| s.trim().trim_start_matches("0x").to_string())
            .unwrap_or_else(|_| "?".into())
    };
    let driver = link_name(&dir.join("driver"));
    if driver.as_deref() != Some("vfio-pci") {
        return Err(VfioError::NotBound {
            address,
            id: format!("{}:{}", read_id("vendor"), read_id("device")),
            driver,
        });
    }
    let group_link = dir.join("iommu_group");
    let group_name = link_name(&group_link).ok_or(VfioError::NoIommu { address })?;
    let group: u32 = group_name.parse().map_err(|_| VfioError::NotPciDevice {
        path: group_link.clone(),
        why: format!("iommu_group link points to {group_name:?}, not a group number"),
    })?;
    let members = group_link.join("devices");
    let mut offenders = Vec::new();
    for entry in fs::read_dir(&members).map_err(io_err("listing IOMMU group", &members))? {
        let entry = entry.map_err(io_err("listing IOMMU group", &members))?;
        let drv = link_name(&entry.path().join("driver"));
        if !driver_is_vfio_safe(drv.as_deref()) {
            offenders.push((
                entry.file_name().to_string_lossy().into_owned(),
                drv.unwrap_or_default(),
            ));
        }
    }
    if !offenders.is_empty() {
        offenders.sort();
        return Err(VfioError::GroupNotViable { group, offenders });
    }
    Ok(VfioTarget {
        address,
        sysfs_path: dir,
        group,
    })
}

/// Opens a VFIO node read-write, mapping the usual failures to typed errors.
fn probe_node(path: &Path) -> Result<(), VfioError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|e| node_error(path, e))
}

fn node_error(path: &Path, e: io::Error) -> VfioError {
    let path = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => VfioError::NoVfioNode { path },
        io::ErrorKind::PermissionDenied => VfioError::Permission { path },
        _ if e.raw_os_error() == Some(libc::EBUSY) => VfioError::GroupBusy { path },
        _ => VfioError::Io {
            what: "opening",
            path,
            source: e,
        },
    }
}

enum Bar {
    /// Memory BAR mapped into our address space.
    Mapped {
        map: MappedOwningPciRegion,
        len: u64,
    },
    /// BAR VFIO will not let us mmap (an I/O BAR, or one smaller than a
    /// page): accessed through pci-driver's region reads and writes, one
    /// access per call.
    Region {
        region: OwningPciRegion,
        len: u64,
    },
    Absent,
}

/// A PCI function opened through VFIO.
pub struct VfioDevice {
    name: String,
    target: VfioTarget,
    // Field order matters for drop: the BAR maps go before the device, which
    // then releases its fd; the container (shared with DMA buffers) goes last.
    bars: Vec<Bar>,
    device: VfioPciDevice,
    /// The container holding the device's group: its IOMMU maps our DMA.
    container: Arc<VfioContainer>,
    next_iova: u64,
    /// IOMMU page: IOVAs, lengths and host addresses of DMA maps align to it.
    align: usize,
}

impl fmt::Debug for VfioDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VfioDevice")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Opens `device` (PCI address or sysfs path) with the real `/sys` and `/dev`.
pub fn open(device: &str) -> Result<VfioDevice, VfioError> {
    VfioDevice::open_with(device, &VfioOptions::default())
}

impl VfioDevice {
    /// Opens `device` after [`check`]; enables memory decoding and bus
    /// mastering and maps every memory BAR.
    pub fn open_with(device: &str, opts: &VfioOptions) -> Result<VfioDevice, VfioError> {
        let target = check(device, opts)?;
        let address = target.address;
        let container_node = opts.dev_root.join("vfio/vfio");
        let group_node = opts.dev_root.join(format!("vfio/{}", target.group));
        probe_node(&container_node)?;
        probe_node(&group_node)?;
        if opts.dev_root != Path::new("/dev") {
            // pci-driver opens /dev/vfio/* by fixed paths.
            return Err(VfioError::NoVfioNode {
                path: PathBuf::from("/dev/vfio/vfio"),
            });
        }
        let vfio = |step| {
            move |source| VfioError::Vfio {
                address,
                step,
                source,
            }
        };
        let container =
            Arc::new(
                VfioContainer::new(&[target.group]).map_err(|e| match e.raw_os_error() {
                    Some(libc::EBUSY) => node_error(&group_node, e),
                    _ => vfio("opening the group and a type-1 IOMMU container")(e),
                })?,
            );
        let device = VfioPciDevice::open_in_container(&target.sysfs_path, container.clone())
            .map_err(vfio("getting the device fd and its regions"))?;
        let name = address.to_string();
        let mut bars = Vec::new();
        for bar in 0..BAR_COUNT {
            let Some(region) = device.bar(bar as usize) else {
                bars.push(Bar::Absent);
                continue;
            };
            let len = region.len();
            bars.push(if len == 0 {
                Bar::Absent
            } else if region.is_mappable() {
                let map =
                    region
                        .map(.., Permissions::ReadWrite)
                        .map_err(|source| DeviceError::Io {
                            device: name.clone(),
                            what: format!("mapping BAR {bar} ({len:#x} bytes)"),
                            source,
                        })?;
                Bar::Mapped { map, len }
            } else {
                Bar::Region { region, len }
            });
        }
        let align = container.iommu().alignment().max(4096);
        let next_iova = first_iova(container.iommu().valid_iova_ranges(), align);
        let dev = VfioDevice {
            name,
            target,
            bars,
            device,
            container,
            next_iova,
            align,
        };
        let mut cmd = [0u8; 2];
        dev.config_read(PCI_COMMAND, &mut cmd)?;
        let cmd = u16::from_le_bytes(cmd) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
        dev.config_write(PCI_COMMAND, &cmd.to_le_bytes())?;
        Ok(dev)
    }

    /// What [`check`] found.
    pub fn target(&self) -> &VfioTarget {
        &self.target
    }

    /// Reads config space at `offset`.
    pub fn config_read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let config = self.device.config();
        let config = config.as_subregion();
        self.config_check(config.len(), offset, buf.len())?;
        config
            .read_bytes(offset, buf)
            .map_err(|source| DeviceError::Io {
                device: self.name.clone(),
                what: format!("reading {} bytes of config space at {offset:#x}", buf.len()),
                source,
            })
    }

    /// Writes config space at `offset`, in accesses of the widest aligned
    /// size (pci-driver has no byte-string write).
    pub fn config_write(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        let config = self.device.config();
        let config = config.as_subregion();
        self.config_check(config.len(), offset, data.len())?;
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let rest = &data[done..];
            let n = if at.is_multiple_of(4) && rest.len() >= 4 {
                4
            } else if at.is_multiple_of(2) && rest.len() >= 2 {
                2
            } else {
                1
            };
            let r = match n {
                4 => config
                    .write_le_u32(at, u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]])),
                2 => config.write_le_u16(at, u16::from_le_bytes([rest[0], rest[1]])),
                _ => config.write_u8(at, rest[0]),
            };
            r.map_err(|source| DeviceError::Io {
                device: self.name.clone(),
                what: format!("writing {n} bytes of config space at {at:#x}"),
                source,
            })?;
            done += n;
        }
        Ok(())
    }

    fn config_check(&self, len: u64, offset: u64, n: usize) -> Result<(), DeviceError> {
        match offset.checked_add(n as u64) {
            Some(end) if end <= len => Ok(()),
            _ => Err(DeviceError::OutOfRange {
                device: self.name.clone(),
                bar: u8::MAX,
                offset,
                width: n.min(255) as u8,
                len,
            }),
        }
    }

    /// Vendor and device ID from config space.
    pub fn ids(&self) -> Result<(u16, u16), DeviceError> {
        let mut b = [0u8; 4];
        self.config_read(0, &mut b)?;
        Ok((
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_le_bytes([b[2], b[3]]),
        ))
    }

    fn no_such_bar(&self, bar: u8) -> DeviceError {
        DeviceError::NoSuchBar {
            device: self.name.clone(),
            bar,
            present: self.present_bars(),
        }
    }

    /// Where a checked `width`-byte access at `offset` of `bar` goes.
    fn locate(&self, bar: u8, offset: u64, width: u8) -> Result<Target<'_>, DeviceError> {
        let (len, target) = match self.bars.get(bar as usize) {
            // wrapping_add is safe to compute; check_access below proves the
            // result in bounds before anyone dereferences it.
            Some(Bar::Mapped { map, len }) => (
                *len,
                Target::Mmio(map.as_mut_ptr().wrapping_add(offset as usize)),
            ),
            Some(Bar::Region { region, len }) => (*len, Target::Region(region)),
            _ => return Err(self.no_such_bar(bar)),
        };
        check_access(&self.name, bar, len, offset, width)?;
        Ok(target)
    }

    fn present_bars(&self) -> String {
        let v: Vec<String> = self
            .bars
            .iter()
            .enumerate()
            .filter(|(_, b)| !matches!(b, Bar::Absent))
            .map(|(i, _)| i.to_string())
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }

    fn region_err(
        &self,
        write: bool,
        n: usize,
        bar: u8,
        offset: u64,
    ) -> impl FnOnce(io::Error) -> DeviceError {
        let device = self.name.clone();
        let verb = if write { "writing" } else { "reading" };
        move |source| DeviceError::Io {
            device,
            what: format!("{verb} {n} bytes of BAR {bar} at {offset:#x}"),
            source,
        }
    }
}

/// The first IOVA to hand out: low, because some devices cannot address
/// much (QEMU's edu device has a 28-bit DMA mask), inside a range the IOMMU
/// accepts (the x86 MSI window at 0xfee00000 is reserved).
fn first_iova(valid: &[std::ops::Range<u64>], align: usize) -> u64 {
    let align = align as u64;
    valid
        .iter()
        .filter_map(|r| {
            let start = r.start.max(IOVA_BASE).checked_next_multiple_of(align)?;
            (start < r.end).then_some(start)
        })
        .min()
        .unwrap_or(IOVA_BASE)
}

/// A checked register location.
enum Target<'a> {
    /// Inside a live BAR mapping, in bounds and aligned for the access.
    Mmio(*mut u8),
    /// A BAR VFIO would not let us map.
    Region(&'a OwningPciRegion),
}

impl Device for VfioDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
        match self.bars.get(bar as usize) {
            Some(Bar::Mapped { len, .. }) | Some(Bar::Region { len, .. }) => Ok(*len),
            _ => Err(self.no_such_bar(bar)),
        }
    }

    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
        match self.locate(bar, offset, 4)? {
            // SAFETY: locate() checked offset + 4 <= BAR length and 4-byte
            // alignment inside a mapping that lives as long as `self`; MMIO
            // is only touched by volatile accesses of the register's width.
            Target::Mmio(p) => Ok(unsafe { (p as *const u32).read_volatile() }),
            Target::Region(r) => r
                .read_le_u32(offset)
                .map_err(self.region_err(false, 4, bar, offset)),
        }
    }

    fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError> {
        match self.locate(bar, offset, 4)? {
            // SAFETY: as in read32.
            Target::Mmio(p) => unsafe { (p as *mut u32).write_volatile(value) },
            Target::Region(r) => r
                .write_le_u32(offset, value)
                .map_err(self.region_err(true, 4, bar, offset))?,
        }
        Ok(())
    }

    fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
        match self.locate(bar, offset, 8)? {
            // SAFETY: as in read32, for 8 bytes: one 64-bit load, one TLP.
            Target::Mmio(p) => Ok(unsafe { (p as *const u64).read_volatile() }),
            Target::Region(r) => {
                // One 8-byte read of the region: VFIO does it as one access.
                let mut b = [0u8; 8];
                r.read_bytes(offset, &mut b)
                    .map_err(self.region_err(false, 8, bar, offset))?;
                Ok(u64::from_le_bytes(b))
            }
        }
    }

    fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
        match self.locate(bar, offset, 8)? {
            // SAFETY: as in read64.
            Target::Mmio(p) => unsafe { (p as *mut u64).write_volatile(value) },
            Target::Region(_) => {
                // pci-driver's regions write at most 32 bits at a time, and a
                // 64-bit register must never be written in two halves.
                return Err(DeviceError::Unsupported {
                    device: self.name.clone(),
                    what: "64-bit writes to a BAR VFIO cannot map",
                });
            }
        }
        Ok(())
    }

    /// Anonymous memory mapped at a fresh IOVA through the type-1 IOMMU.
    /// IOVAs are handed out by a bump allocator and never reused: buffers
    /// are few and long-lived (rings, queues), and a stale IOVA a device
    /// still holds then faults instead of hitting someone else's memory.
    fn dma_alloc(&mut self, len: usize) -> Result<Box<dyn DmaBuffer>, DeviceError> {
        let len = len.max(1).div_ceil(self.align) * self.align;
        let map: MmapRaw = MmapOptions::new()
            .len(len)
            .map_anon()
            .map_err(|source| DeviceError::Io {
                device: self.name.clone(),
                what: format!("allocating {len} bytes for DMA"),
                source,
            })?
            .into();
        let iova = self.next_iova;
        // SAFETY: `map` is a fresh private anonymous mapping of `len` bytes,
        // page aligned, that no Rust reference covers; it is only accessed
        // through raw volatile copies (VfioDma) and unmapped from the IOMMU
        // before it is freed (VfioDma::drop).
        unsafe {
            self.container
                .iommu()
                .map(iova, len, map.as_mut_ptr(), Permissions::ReadWrite)
        }
        .map_err(|e| DeviceError::Backend {
            device: self.name.clone(),
            message: format!(
                "VFIO_IOMMU_MAP_DMA of {len} bytes at IOVA {iova:#x}: {e} (is the locked-memory limit, `ulimit -l`, large enough?)"
            ),
        })?;
        self.next_iova += len as u64;
        Ok(Box::new(VfioDma {
            map: Some(map),
            iova,
            len,
            container: self.container.clone(),
        }))
    }
}

/// A DMA buffer mapped through the VFIO container's IOMMU.
struct VfioDma {
    map: Option<MmapRaw>,
    iova: u64,
    len: usize,
    /// Keeps the group in the container (and so the IOMMU domain) until this
    /// buffer is unmapped, so a buffer may outlive its VfioDevice handle.
    container: Arc<VfioContainer>,
}

impl fmt::Debug for VfioDma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VfioDma {{ iova: {:#x}, len: {} }}", self.iova, self.len)
    }
}

impl VfioDma {
    fn ptr(&self) -> *mut u8 {
        self.map
            .as_ref()
            .map_or(std::ptr::null_mut(), |m| m.as_mut_ptr())
    }
}

impl DmaBuffer for VfioDma {
    fn iova(&self) -> u64 {
        self.iova
    }

    fn len(&self) -> usize {
        self.len
    }

    fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), DeviceError> {
        check_dma(offset, out.len(), self.len)?;
        let p = self.ptr();
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: offset + i < len (checked above) inside the live
            // mapping; volatile because the device writes it concurrently.
            *b = unsafe { p.add(offset + i).read_volatile() };
        }
        Ok(())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), DeviceError> {
        check_dma(offset, data.len(), self.len)?;
        let p = self.ptr();
        for (i, b) in data.iter().enumerate() {
            // SAFETY: as in read.
            unsafe { p.add(offset + i).write_volatile(*b) };
        }
        Ok(())
    }
}

impl Drop for VfioDma {
    fn drop(&mut self) {
        if self.container.iommu().unmap(self.iova, self.len).is_err() {
            // The device may still reach this memory: leak it rather than
            // hand it back to the allocator.
            std::mem::forget(self.map.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_iova_is_aligned_inside_a_valid_range() {
        // Typical x86 type-1 IOMMU: everything but the MSI window.
        let x86 = [0..0xfee0_0000, 0xfef0_0000..u64::MAX];
        assert_eq!(first_iova(&x86, 4096), IOVA_BASE);
        // A range starting above the base: its aligned start.
        let above = [0x20_0001..1 << 40, u64::MAX..u64::MAX];
        assert_eq!(first_iova(&above, 4096), 0x20_1000);
        // A range too small to hold an aligned start is skipped.
        assert_eq!(
            first_iova(&[0x10_0001..0x10_0fff, 1 << 32..1 << 33], 4096),
            1 << 32
        );
        // Larger IOMMU pages align the start to them.
        assert_eq!(first_iova(&x86, 1 << 21), 1 << 21);
    }

    /// Root bypasses file permissions, so the mapping is tested directly.
    #[test]
    fn node_errors_are_typed() {
        let p = Path::new("/dev/vfio/7");
        assert!(matches!(
            node_error(p, io::Error::from(io::ErrorKind::PermissionDenied)),
            VfioError::Permission { .. }
        ));
        assert!(matches!(
            node_error(p, io::Error::from_raw_os_error(libc::EBUSY)),
            VfioError::GroupBusy { .. }
        ));
        assert!(matches!(
            node_error(p, io::Error::from(io::ErrorKind::NotFound)),
            VfioError::NoVfioNode { .. }
        ));
        assert!(matches!(
            node_error(p, io::Error::from_raw_os_error(libc::EIO)),
            VfioError::Io { .. }
        ));
        let msg = node_error(p, io::Error::from(io::ErrorKind::PermissionDenied)).to_string();
        assert!(msg.contains("chown") && msg.contains("udev"), "{msg}");
    }
}
