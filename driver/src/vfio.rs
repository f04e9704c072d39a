//! VFIO backend: a PCI function bound to `vfio-pci`, driven from user space.
//!
//! Crate choices, and why:
//! - `vfio-ioctls` (default features off: its `kvm` feature only wires
//!   groups into a KVM VM) opens the container and group, checks viability,
//!   gets the device fd and region layout, and maps DMA through the type-1
//!   IOMMU. Its `region_read`/`region_write` log and swallow errors, so they
//!   are never used: config space goes through our own `pread`/`pwrite` on
//!   the device fd at the region offset, which fail loudly.
//! - BARs are mapped with `memmap2::MmapRaw` on the device fd at the region
//!   offset and accessed only with `read_volatile`/`write_volatile` of the
//!   exact width (a 64-bit register is one 8-byte load or store, one TLP);
//!   no Rust reference ever covers MMIO.
//! - `pci-driver` is not used: it opens the VFIO group itself (a group fd is
//!   exclusive, so it cannot share one with the DMA container above), its
//!   backends are sealed and it has no 64-bit register accessors.
//!
//! All checks that can be made from sysfs are made before touching
//! `/dev/vfio`, so every usual misconfiguration gets a typed error with the
//! commands that fix it. The sysfs and `/dev` roots are injectable for tests.

use crate::device::{check_access, check_dma, Device, DeviceError, DmaBuffer};
use memmap2::{MmapOptions, MmapRaw};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use thiserror::Error;
use vfio_bindings::bindings::vfio::{
    VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_REGION_INFO_FLAG_MMAP,
};
use vfio_ioctls::{VfioContainer, VfioDevice as RawVfioDevice};

/// Number of standard PCI BARs.
pub const BAR_COUNT: u8 = 6;
/// PCI config space: command register offset and its memory-space and
/// bus-master enable bits (PCI Local Bus spec 6.2.2).
const PCI_COMMAND: u64 = 0x04;
const PCI_COMMAND_MEMORY: u16 = 1 << 1;
const PCI_COMMAND_MASTER: u16 = 1 << 2;
/// First IOVA handed out. Low, because some devices cannot address much
/// (QEMU's edu device has a 28-bit DMA mask), and far from the x86 MSI
/// window at 0xfee00000 which the IOMMU reserves.
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
        /// The error from vfio-ioctls.
        #[source]
        source: vfio_ioctls::VfioError,
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

/// Resolves `device` (a PCI address or a sysfs path) and checks, from sysfs
/// alone, that it can be opened through VFIO: bound to vfio-pci, in an IOMMU
/// group whose other members are all harmless.
pub fn check(device: &str, opts: &VfioOptions) -> Result<VfioTarget, VfioError> {
    let (address, dir) = if device.contains('/') {
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
        (address, dir)
    } else {
        let address: PciAddress = device.parse()?;
        let dir = opts
            .sysfs_root
            .join("bus/pci/devices")
            .join(address.to_string());
        if !dir.exists() {
            return Err(VfioError::NoSuchDevice { address, path: dir });
        }
        (address, dir)
    };
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
        map: MmapRaw,
        len: u64,
    },
    /// BAR VFIO will not let us mmap (e.g. smaller than a page): accessed
    /// with `pread`/`pwrite` at its region offset, one access per call.
    Pio {
        offset: u64,
        len: u64,
    },
    Absent,
}

/// A PCI function opened through VFIO.
pub struct VfioDevice {
    name: String,
    target: VfioTarget,
    container: Arc<VfioContainer>,
    // Field order matters for drop: the BAR maps and the fd clone go before
    // the device, which then releases the group from the container.
    bars: Vec<Bar>,
    fd: File,
    config_offset: u64,
    config_len: u64,
    /// Owns the device fd and keeps the group attached to the container
    /// (and so the IOMMU domain alive); DMA buffers hold a clone.
    device: Arc<RawVfioDevice>,
    next_iova: u64,
    page: usize,
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
            // vfio-ioctls opens /dev/vfio/* by fixed paths.
            return Err(VfioError::NoVfioNode {
                path: PathBuf::from("/dev/vfio/vfio"),
            });
        }
        let container = Arc::new(VfioContainer::new(None).map_err(|source| VfioError::Vfio {
            address,
            step: "opening the VFIO container /dev/vfio/vfio",
            source,
        })?);
        let device =
            RawVfioDevice::new(&target.sysfs_path, container.clone(), false).map_err(|source| {
                VfioError::Vfio {
                    address,
                    step: "attaching the group and getting the device fd",
                    source,
                }
            })?;
        // SAFETY: the fd belongs to `device`, which is alive for this whole
        // expression; it is duplicated at once, so no borrow outlives it.
        let fd: File = unsafe { BorrowedFd::borrow_raw(device.as_raw_fd()) }
            .try_clone_to_owned()
            .map_err(io_err("duplicating the device fd of", &target.sysfs_path))?
            .into();
        let name = address.to_string();
        let mut bars = Vec::new();
        for bar in 0..BAR_COUNT as u32 {
            let index = VFIO_PCI_BAR0_REGION_INDEX + bar;
            let len = device.get_region_size(index);
            let offset = device.get_region_offset(index);
            let flags = device.get_region_flags(index);
            bars.push(if len == 0 {
                Bar::Absent
            } else if flags & VFIO_REGION_INFO_FLAG_MMAP != 0 {
                let map = MmapOptions::new()
                    .offset(offset)
                    .len(len as usize)
                    .map_raw(&fd)
                    .map_err(|source| DeviceError::Io {
                        device: name.clone(),
                        what: format!("mapping BAR {bar} ({len:#x} bytes)"),
                        source,
                    })?;
                Bar::Mapped { map, len }
            } else {
                Bar::Pio { offset, len }
            });
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let dev = VfioDevice {
            name,
            config_offset: device.get_region_offset(VFIO_PCI_CONFIG_REGION_INDEX),
            config_len: device.get_region_size(VFIO_PCI_CONFIG_REGION_INDEX),
            target,
            container,
            bars,
            fd,
            device: Arc::new(device),
            next_iova: IOVA_BASE,
            page: if page > 0 { page as usize } else { 4096 },
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

    /// Reads config space at `offset` (loud errors, unlike vfio-ioctls).
    pub fn config_read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.config_check(offset, buf.len())?;
        self.fd
            .read_exact_at(buf, self.config_offset + offset)
            .map_err(|source| DeviceError::Io {
                device: self.name.clone(),
                what: format!("reading {} bytes of config space at {offset:#x}", buf.len()),
                source,
            })
    }

    /// Writes config space at `offset`.
    pub fn config_write(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.config_check(offset, data.len())?;
        self.fd
            .write_all_at(data, self.config_offset + offset)
            .map_err(|source| DeviceError::Io {
                device: self.name.clone(),
                what: format!(
                    "writing {} bytes of config space at {offset:#x}",
                    data.len()
                ),
                source,
            })
    }

    fn config_check(&self, offset: u64, n: usize) -> Result<(), DeviceError> {
        match offset.checked_add(n as u64) {
            Some(end) if end <= self.config_len => Ok(()),
            _ => Err(DeviceError::OutOfRange {
                device: self.name.clone(),
                bar: u8::MAX,
                offset,
                width: n.min(255) as u8,
                len: self.config_len,
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
    fn locate(&self, bar: u8, offset: u64, width: u8) -> Result<Target, DeviceError> {
        let (len, target) = match self.bars.get(bar as usize) {
            // wrapping_add is safe to compute; check_access below proves the
            // result in bounds before anyone dereferences it.
            Some(Bar::Mapped { map, len }) => (
                *len,
                Target::Mmio(map.as_mut_ptr().wrapping_add(offset as usize)),
            ),
            Some(Bar::Pio { offset: base, len }) => (*len, Target::File(base + offset)),
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

    fn pread<const N: usize>(
        &self,
        pos: u64,
        bar: u8,
        offset: u64,
    ) -> Result<[u8; N], DeviceError> {
        let mut b = [0u8; N];
        self.fd
            .read_exact_at(&mut b, pos)
            .map_err(|source| DeviceError::Io {
                device: self.name.clone(),
                what: format!("reading {N} bytes of BAR {bar} at {offset:#x}"),
                source,
            })?;
        Ok(b)
    }

    fn pwrite(&self, pos: u64, bar: u8, offset: u64, b: &[u8]) -> Result<(), DeviceError> {
        self.fd
            .write_all_at(b, pos)
            .map_err(|source| DeviceError::Io {
                device: self.name.clone(),
                what: format!("writing {} bytes of BAR {bar} at {offset:#x}", b.len()),
                source,
            })
    }
}

/// A checked register location.
enum Target {
    /// Inside a live BAR mapping, in bounds and aligned for the access.
    Mmio(*mut u8),
    /// File offset on the device fd (BAR VFIO would not let us map).
    File(u64),
}

impl Device for VfioDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
        match self.bars.get(bar as usize) {
            Some(Bar::Mapped { len, .. }) | Some(Bar::Pio { len, .. }) => Ok(*len),
            _ => Err(self.no_such_bar(bar)),
        }
    }

    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
        match self.locate(bar, offset, 4)? {
            // SAFETY: locate() checked offset + 4 <= BAR length and 4-byte
            // alignment inside a mapping that lives as long as `self`; MMIO
            // is only touched by volatile accesses of the register's width.
            Target::Mmio(p) => Ok(unsafe { (p as *const u32).read_volatile() }),
            Target::File(pos) => self.pread::<4>(pos, bar, offset).map(u32::from_le_bytes),
        }
    }

    fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError> {
        match self.locate(bar, offset, 4)? {
            // SAFETY: as in read32.
            Target::Mmio(p) => unsafe { (p as *mut u32).write_volatile(value) },
            Target::File(pos) => self.pwrite(pos, bar, offset, &value.to_le_bytes())?,
        }
        Ok(())
    }

    fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
        match self.locate(bar, offset, 8)? {
            // SAFETY: as in read32, for 8 bytes: one 64-bit load, one TLP.
            Target::Mmio(p) => Ok(unsafe { (p as *const u64).read_volatile() }),
            Target::File(pos) => self.pread::<8>(pos, bar, offset).map(u64::from_le_bytes),
        }
    }

    fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
        match self.locate(bar, offset, 8)? {
            // SAFETY: as in read64.
            Target::Mmio(p) => unsafe { (p as *mut u64).write_volatile(value) },
            Target::File(pos) => self.pwrite(pos, bar, offset, &value.to_le_bytes())?,
        }
        Ok(())
    }

    /// Anonymous memory mapped at a fresh IOVA through the type-1 IOMMU.
    /// IOVAs are handed out by a bump allocator and never reused: buffers
    /// are few and long-lived (rings, queues), and a stale IOVA a device
    /// still holds then faults instead of hitting someone else's memory.
    fn dma_alloc(&mut self, len: usize) -> Result<Box<dyn DmaBuffer>, DeviceError> {
        let len = len.max(1).div_ceil(self.page) * self.page;
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
        // SAFETY: `map` is a fresh private anonymous mapping of `len` bytes
        // that no Rust reference covers; it is only accessed through raw
        // volatile copies (VfioDma) and unmapped from the IOMMU before it is
        // freed (VfioDma::drop).
        unsafe { self.container.vfio_dma_map(iova, len, map.as_mut_ptr()) }.map_err(|e| {
            DeviceError::Backend {
                device: self.name.clone(),
                message: format!(
                    "VFIO_IOMMU_MAP_DMA of {len} bytes at IOVA {iova:#x}: {e} (is the locked-memory limit, `ulimit -l`, large enough?)"
                ),
            }
        })?;
        self.next_iova += len as u64;
        Ok(Box::new(VfioDma {
            map: Some(map),
            iova,
            len,
            container: self.container.clone(),
            _device: self.device.clone(),
        }))
    }
}

/// A DMA buffer mapped through the VFIO container's IOMMU.
struct VfioDma {
    map: Option<MmapRaw>,
    iova: u64,
    len: usize,
    container: Arc<VfioContainer>,
    /// Keeps the group in the container until this buffer is unmapped, so
    /// a buffer may outlive its VfioDevice handle.
    _device: Arc<RawVfioDevice>,
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
        if self.container.vfio_dma_unmap(self.iova, self.len).is_err() {
            // The device may still reach this memory: leak it rather than
            // hand it back to the allocator.
            std::mem::forget(self.map.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
