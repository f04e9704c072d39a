//! Every error path of the VFIO backend that needs no hardware, against a
//! fake sysfs tree laid out like the kernel's.
#![cfg(target_os = "linux")]

use driver::vfio::{check, PciAddress, VfioDevice, VfioError, VfioOptions};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

struct FakeSys {
    _dir: tempfile::TempDir,
    root: PathBuf,
    dev: PathBuf,
}

impl FakeSys {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sys");
        let dev = dir.path().join("dev");
        for d in [
            "bus/pci/devices",
            "bus/pci/drivers/vfio-pci",
            "bus/pci/drivers/e1000e",
            "bus/pci/drivers/pcieport",
            "devices/pci0000:00",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::create_dir_all(&dev).unwrap();
        FakeSys {
            _dir: dir,
            root,
            dev,
        }
    }

    fn opts(&self) -> VfioOptions {
        VfioOptions {
            sysfs_root: self.root.clone(),
            dev_root: self.dev.clone(),
        }
    }

    /// A PCI function directory (and its bus/pci/devices link).
    fn add(&self, bdf: &str, driver: Option<&str>, group: Option<u32>) -> PathBuf {
        let d = self.root.join("devices/pci0000:00").join(bdf);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("config"), [0u8; 64]).unwrap();
        fs::write(d.join("vendor"), "0x1234\n").unwrap();
        fs::write(d.join("device"), "0x11e8\n").unwrap();
        symlink(&d, self.root.join("bus/pci/devices").join(bdf)).unwrap();
        if let Some(drv) = driver {
            symlink(
                self.root.join("bus/pci/drivers").join(drv),
                d.join("driver"),
            )
            .unwrap();
        }
        if let Some(g) = group {
            let gd = self.root.join(format!("kernel/iommu_groups/{g}/devices"));
            fs::create_dir_all(&gd).unwrap();
            symlink(&d, gd.join(bdf)).unwrap();
            symlink(
                self.root.join(format!("kernel/iommu_groups/{g}")),
                d.join("iommu_group"),
            )
            .unwrap();
        }
        d
    }
}

#[test]
fn malformed_addresses_are_refused() {
    for bad in [
        "",
        "0000:03:00",
        "zz:00.0",
        "0000:03:20.0",
        "0000:03:00.8",
        "00000:03:00.0",
        "0000:003:00.0",
        "0000:03:00.",
        "1:2:3:4.0",
    ] {
        match bad.parse::<PciAddress>() {
            Err(VfioError::BadAddress { input, .. }) => assert_eq!(input, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let a: PciAddress = "03:1f.7".parse().unwrap();
    assert_eq!(a.to_string(), "0000:03:1f.7");
    let b: PciAddress = "abcd:ff:00.1".parse().unwrap();
    assert_eq!(
        (b.domain, b.bus, b.device, b.function),
        (0xabcd, 0xff, 0, 1)
    );
    let fs = FakeSys::new();
    assert!(matches!(
        VfioDevice::open_with("03:00", &fs.opts()),
        Err(VfioError::BadAddress { .. })
    ));
}

#[test]
fn nonexistent_device() {
    let fs = FakeSys::new();
    match check("0000:03:00.0", &fs.opts()) {
        Err(e @ VfioError::NoSuchDevice { .. }) => assert!(e.to_string().contains("lspci")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sysfs_paths_that_are_not_pci_functions() {
    let fs = FakeSys::new();
    let missing = fs.root.join("bus/pci/devices/0000:09:00.0");
    let not_named = fs.root.join("devices/pci0000:00");
    let no_config = fs.root.join("devices/pci0000:00/0000:04:00.0");
    std::fs::create_dir_all(&no_config).unwrap();
    for p in [&missing, &not_named, &no_config] {
        match check(p.to_str().unwrap(), &fs.opts()) {
            Err(VfioError::NotPciDevice { path, .. }) => assert_eq!(&path, p),
            other => panic!("{}: {other:?}", p.display()),
        }
    }
}

#[test]
fn not_bound_to_vfio_pci_prints_the_fix() {
    let fs = FakeSys::new();
    fs.add("0000:03:00.0", Some("e1000e"), Some(4));
    fs.add("0000:05:00.0", None, Some(6));
    match check("0000:03:00.0", &fs.opts()) {
        Err(e @ VfioError::NotBound { .. }) => {
            let m = e.to_string();
            assert!(m.contains("bound to e1000e"), "{m}");
            assert!(
                m.contains("echo 0000:03:00.0 > /sys/bus/pci/devices/0000:03:00.0/driver/unbind"),
                "{m}"
            );
            assert!(
                m.contains("echo vfio-pci > /sys/bus/pci/devices/0000:03:00.0/driver_override"),
                "{m}"
            );
            assert!(
                m.contains("echo 0000:03:00.0 > /sys/bus/pci/drivers_probe"),
                "{m}"
            );
            assert!(m.contains("1234:11e8"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    match check("05:00.0", &fs.opts()) {
        Err(e @ VfioError::NotBound { driver: None, .. }) => {
            assert!(!e.to_string().contains("unbind"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // The same through the sysfs path.
    let p = fs.root.join("bus/pci/devices/0000:03:00.0");
    assert!(matches!(
        check(p.to_str().unwrap(), &fs.opts()),
        Err(VfioError::NotBound { .. })
    ));
}

#[test]
fn no_iommu_group_means_iommu_off() {
    let fs = FakeSys::new();
    fs.add("0000:03:00.0", Some("vfio-pci"), None);
    match check("0000:03:00.0", &fs.opts()) {
        Err(e @ VfioError::NoIommu { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("intel_iommu=on")
                    && m.contains("amd_iommu=on")
                    && m.contains("iommu=pt"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn group_viability() {
    let fs = FakeSys::new();
    fs.add("0000:03:00.0", Some("vfio-pci"), Some(4));
    fs.add("0000:03:00.1", Some("e1000e"), Some(4));
    match check("0000:03:00.0", &fs.opts()) {
        Err(VfioError::GroupNotViable {
            group: 4,
            offenders,
        }) => {
            assert_eq!(
                offenders,
                vec![("0000:03:00.1".to_string(), "e1000e".to_string())]
            )
        }
        other => panic!("{other:?}"),
    }
    // A bridge under pcieport and a driverless function do not matter.
    let fs = FakeSys::new();
    fs.add("0000:03:00.0", Some("vfio-pci"), Some(4));
    fs.add("0000:00:1c.0", Some("pcieport"), Some(4));
    fs.add("0000:03:00.1", None, Some(4));
    let t = check("0000:03:00.0", &fs.opts()).unwrap();
    assert_eq!(t.group, 4);
    assert_eq!(t.address.to_string(), "0000:03:00.0");
}

#[test]
fn missing_dev_vfio_nodes() {
    let fs = FakeSys::new();
    fs.add("0000:03:00.0", Some("vfio-pci"), Some(4));
    match VfioDevice::open_with("0000:03:00.0", &fs.opts()) {
        Err(e @ VfioError::NoVfioNode { .. }) => {
            assert!(
                e.to_string().contains("vfio/vfio") && e.to_string().contains("modprobe vfio-pci"),
                "{e}"
            )
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    std::fs::create_dir_all(fs.dev.join("vfio")).unwrap();
    std::fs::write(fs.dev.join("vfio/vfio"), b"").unwrap();
    match VfioDevice::open_with("0000:03:00.0", &fs.opts()) {
        Err(VfioError::NoVfioNode { path }) => assert_eq!(path, fs.dev.join("vfio/4")),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn real_system_without_the_device() {
    // Whatever this machine has, an address no machine has is refused with
    // a typed error, never a panic.
    let r = driver::vfio::open("ffff:ff:1f.7");
    assert!(
        matches!(r, Err(VfioError::NoSuchDevice { .. })),
        "{:?}",
        r.map(|_| ())
    );
    assert!(Path::new("/").exists());
}
