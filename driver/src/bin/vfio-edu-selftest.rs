//! Exercises the VFIO backend against QEMU's `edu` PCI device (vendor
//! 0x1234, device 0x11e8): config space, BAR0 registers, typed access
//! errors, a DMA round trip through the IOMMU, and the Nic API's refusal of
//! a device that is not a fastpath pipeline. Runs inside the QEMU guest of
//! `tests/vfio_qemu.rs`; prints one `FASTPATH-QEMU PASS|FAIL name` line per
//! check and exits non-zero if any failed.
//!
//! With `--fastpath-image PCI_ADDRESS BAR` it instead drives the Nic API
//! on a memory BAR holding a fastpath capability block (ivshmem-plain in the
//! test): open, set a mask, install a megaflow and an EMC entry; the host then
//! checks the register writes that landed in the BAR's backing file.
//!
//! usage: vfio-edu-selftest [--expect-unbound] PCI_ADDRESS
//!        vfio-edu-selftest --fastpath-image PCI_ADDRESS BAR

#[cfg(target_os = "linux")]
mod edu {
    use driver::vfio::{self, VfioError};
    use driver::{Device, DeviceError, Nic, NicError};
    use std::time::{Duration, Instant};

    // QEMU hw/misc/edu.c register map.
    const EDU_ID: u64 = 0x00;
    const EDU_ID_VALUE: u32 = 0x0100_00ed;
    const EDU_LIVENESS: u64 = 0x04;
    const EDU_DMA_SRC: u64 = 0x80;
    const EDU_DMA_DST: u64 = 0x88;
    const EDU_DMA_COUNT: u64 = 0x90;
    const EDU_DMA_CMD: u64 = 0x98;
    const EDU_DMA_START: u64 = 1;
    const EDU_DMA_TO_RAM: u64 = 2;
    const EDU_BUFFER: u64 = 0x40000;
    /// Bytes per transfer: edu's buffer is 4096 bytes, but QEMU 7.2's range
    /// check refuses a transfer ending exactly at its end (off by one), so
    /// stay well inside it.
    const EDU_BUFFER_LEN: usize = 2048;

    /// An error with its chain of causes.
    fn msg<E: std::error::Error>(e: E) -> String {
        let mut s = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            s.push_str(&format!(": {c}"));
            cause = c.source();
        }
        s
    }

    struct Report {
        failed: u32,
    }

    impl Report {
        fn check(&mut self, name: &str, r: Result<String, String>) {
            match r {
                Ok(detail) => println!("FASTPATH-QEMU PASS {name} {detail}"),
                Err(e) => {
                    self.failed += 1;
                    println!("FASTPATH-QEMU FAIL {name}: {}", e.replace('\n', " | "));
                }
            }
        }
    }

    fn dma(dev: &mut vfio::VfioDevice, src: u64, dst: u64, to_ram: bool) -> Result<(), String> {
        let e = msg::<DeviceError>;
        dev.write64(0, EDU_DMA_SRC, src).map_err(e)?;
        dev.write64(0, EDU_DMA_DST, dst).map_err(e)?;
        dev.write64(0, EDU_DMA_COUNT, EDU_BUFFER_LEN as u64)
            .map_err(e)?;
        let cmd = EDU_DMA_START | if to_ram { EDU_DMA_TO_RAM } else { 0 };
        dev.write64(0, EDU_DMA_CMD, cmd).map_err(e)?;
        // edu runs the transfer from a timer 100 ms (virtual) later.
        let deadline = Instant::now() + Duration::from_secs(20);
        while dev.read64(0, EDU_DMA_CMD).map_err(e)? & EDU_DMA_START != 0 {
            if Instant::now() > deadline {
                return Err("DMA did not complete within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    fn bound_checks(r: &mut Report, bdf: &str) -> Result<(), String> {
        let t0 = Instant::now();
        let mut dev = vfio::open(bdf).map_err(msg)?;
        r.check(
            "open",
            Ok(format!(
                "group {} in {:?}",
                dev.target().group,
                t0.elapsed()
            )),
        );
        r.check(
            "config-ids",
            match dev.ids() {
                Ok((0x1234, 0x11e8)) => Ok("1234:11e8".into()),
                Ok((v, d)) => Err(format!("read {v:04x}:{d:04x}, expected 1234:11e8")),
                Err(e) => Err(msg(e)),
            },
        );
        let len = dev.bar_len(0).map_err(msg)?;
        r.check(
            "bar0-len",
            if len >= 4096 {
                Ok(format!("{len:#x}"))
            } else {
                Err(format!("{len:#x}"))
            },
        );
        r.check(
            "bar0-id",
            match dev.read32(0, EDU_ID) {
                Ok(EDU_ID_VALUE) => Ok(format!("{EDU_ID_VALUE:#010x}")),
                Ok(v) => Err(format!("read {v:#010x}, expected {EDU_ID_VALUE:#010x}")),
                Err(e) => Err(msg(e)),
            },
        );
        let mut live = Ok(String::new());
        for x in [0x1234_5678u32, 0, 0xa5a5_5a5a] {
            let got = dev
                .write32(0, EDU_LIVENESS, x)
                .and_then(|_| dev.read32(0, EDU_LIVENESS));
            match got {
                Ok(v) if v == !x => {}
                Ok(v) => live = Err(format!("wrote {x:#x}, read {v:#x}, expected {:#x}", !x)),
                Err(e) => live = Err(msg(e)),
            }
        }
        r.check("bar0-liveness", live);
        r.check(
            "bar0-64bit",
            dev.write64(0, EDU_DMA_SRC, 0x0123_4567_89ab_cdef)
                .and_then(|_| dev.read64(0, EDU_DMA_SRC))
                .map_err(msg)
                .and_then(|v| {
                    if v == 0x0123_4567_89ab_cdef {
                        Ok(format!("{v:#x}"))
                    } else {
                        Err(format!("read {v:#x}"))
                    }
                }),
        );
        r.check(
            "err-misaligned",
            match dev.read32(0, 2) {
                Err(DeviceError::Misaligned { .. }) => Ok(String::new()),
                other => Err(format!("{other:?}")),
            },
        );
        r.check(
            "err-out-of-range",
            match dev.read64(0, len) {
                Err(DeviceError::OutOfRange { .. }) => Ok(String::new()),
                other => Err(format!("{other:?}")),
            },
        );
        r.check(
            "err-no-bar",
            match dev.read32(5, 0) {
                Err(DeviceError::NoSuchBar { .. }) => Ok(String::new()),
                other => Err(format!("{other:?}")),
            },
        );

        // DMA: host buffer -> edu's internal buffer -> another host buffer.
        let t = Instant::now();
        let res = (|| -> Result<String, String> {
            let mut src = dev.dma_alloc(EDU_BUFFER_LEN).map_err(msg)?;
            let dst = dev.dma_alloc(EDU_BUFFER_LEN).map_err(msg)?;
            let pattern: Vec<u8> = (0..EDU_BUFFER_LEN)
                .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8)
                .collect();
            src.write(0, &pattern).map_err(msg)?;
            if src.write(src.len(), &[0]).is_ok() {
                return Err("write past the DMA buffer was not refused".into());
            }
            dma(&mut dev, src.iova(), EDU_BUFFER, false)?;
            dma(&mut dev, EDU_BUFFER, dst.iova(), true)?;
            let mut back = vec![0u8; EDU_BUFFER_LEN];
            dst.read(0, &mut back).map_err(msg)?;
            if back != pattern {
                let first = back.iter().zip(&pattern).position(|(a, b)| a != b);
                return Err(format!("data differs, first at byte {first:?}"));
            }
            Ok(format!(
                "{EDU_BUFFER_LEN} bytes via IOVA {:#x} -> {EDU_BUFFER:#x} -> {:#x} in {:?}",
                src.iova(),
                dst.iova(),
                t.elapsed()
            ))
        })();
        r.check("dma-round-trip", res);

        // The IOMMU must refuse an IOVA nobody mapped: edu reads from it and
        // the guest kernel logs a DMAR fault for that address (the host test
        // finds it in dmesg). Below edu's 28-bit DMA mask, far above ours.
        let unmapped = 0x0f00_0000u64;
        r.check(
            "dma-unmapped-issued",
            dma(&mut dev, unmapped, EDU_BUFFER, false).map(|()| format!("{unmapped:#x}")),
        );

        // The Nic API must refuse edu: offset 0 holds no identity block
        // header (edu answers 64-bit reads below 0x80 with all ones).
        r.check(
            "nic-refuses-edu",
            match Nic::open(&mut dev) {
                Err(NicError::Blocks {
                    error: error @ abi::regs::BlockError::NotFastpath(_),
                    ..
                }) => Ok(error.to_string()),
                Err(e) => Err(format!("wrong error: {}", msg(e))),
                Ok(_) => Err("Nic::open accepted the edu device".into()),
            },
        );
        // A DMA buffer may outlive the device handle: it keeps the IOMMU
        // mapping (and the group) until it is dropped.
        let keep = dev.dma_alloc(64).map(|mut b| {
            let w = b.write(0, b"still mapped");
            (b, w)
        });
        drop(dev);
        r.check(
            "dma-outlives-device",
            match keep {
                Ok((b, Ok(()))) => {
                    let mut back = [0u8; 12];
                    let res = b.read(0, &mut back).map_err(msg).and_then(|_| {
                        if &back == b"still mapped" {
                            Ok(format!("IOVA {:#x}", b.iova()))
                        } else {
                            Err(format!("read back {back:?}"))
                        }
                    });
                    drop(b);
                    res
                }
                Ok((_, Err(e))) | Err(e) => Err(msg(e)),
            },
        );

        // Reopen through the sysfs path: proves the first open released the
        // group and container cleanly.
        let path = format!("/sys/bus/pci/devices/{bdf}");
        r.check(
            "reopen-sysfs-path",
            vfio::open(&path)
                .and_then(|mut d| Ok(d.read32(0, EDU_ID)?))
                .map_err(msg)
                .and_then(|v| {
                    if v == EDU_ID_VALUE {
                        Ok(path.clone())
                    } else {
                        Err(format!("read {v:#x}"))
                    }
                }),
        );
        Ok(())
    }

    /// Key, mask and flow ids of the `--fastpath-image` run; the host test
    /// (tests/vfio_qemu.rs) uses the same values.
    pub fn image_key() -> abi::FlowKey {
        let mut w = [0u64; abi::HW_KEY_WORDS];
        for (i, v) in w.iter_mut().enumerate() {
            *v = 0x0101_0101_0101_0101u64.wrapping_mul(i as u64 + 1);
        }
        abi::FlowKey::from_hw_words(&w)
    }

    fn image_checks(r: &mut Report, bdf: &str, bar: u8) -> Result<(), String> {
        let dev = vfio::open(bdf).map_err(msg)?;
        let mut nic = Nic::open_bar(dev, bar).map_err(msg)?;
        r.check("image-open", Ok(format!("{:?}", nic.capability().geometry)));
        let mask = abi::FlowKey::from_hw_words(&[u64::MAX, 0, 0, 0, 0, 0, 0xffff_ffff, 0]);
        nic.set_mask(0, &mask).map_err(msg)?;
        let mf = nic
            .install_megaflow(0, &image_key(), 0x4321, &abi::action::ActionEntry::TO_HOST)
            .map_err(msg)?;
        let emc = nic
            .install_emc(
                &image_key(),
                0x1234,
                &abi::action::ActionEntry::TO_HOST,
                driver::EmcPolicy::Ovs,
            )
            .map_err(msg)?;
        r.check(
            "image-install",
            Ok(format!(
                "mf index {} writes {} emc index {} writes {}",
                mf.index, mf.writes, emc.index, emc.writes
            )),
        );
        Ok(())
    }

    pub fn main() -> i32 {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut r = Report { failed: 0 };
        match args.as_slice() {
            [flag, bdf] if flag == "--expect-unbound" => {
                r.check(
                    "err-not-bound",
                    match vfio::open(bdf) {
                        Err(e @ VfioError::NotBound { driver: None, .. }) => {
                            Ok(e.to_string().lines().next().unwrap_or("").to_string())
                        }
                        Err(e) => Err(format!("wrong error: {}", msg(e))),
                        Ok(_) => Err("opened a device not bound to vfio-pci".into()),
                    },
                );
                r.check(
                    "err-no-such-device",
                    match vfio::open("0000:00:1f.7") {
                        Err(VfioError::NoSuchDevice { .. }) => Ok(String::new()),
                        other => Err(format!("{:?}", other.map(|_| ()))),
                    },
                );
            }
            [flag, bdf, bar] if flag == "--fastpath-image" => match bar.parse::<u8>() {
                Ok(bar) => {
                    if let Err(e) = image_checks(&mut r, bdf, bar) {
                        r.check("image-open", Err(e));
                    }
                }
                Err(_) => {
                    eprintln!("BAR must be a number, not {bar:?}");
                    return 2;
                }
            },
            [bdf] => {
                if let Err(e) = bound_checks(&mut r, bdf) {
                    r.check("open", Err(e));
                }
            }
            _ => {
                eprintln!("usage: vfio-edu-selftest [--expect-unbound] PCI_ADDRESS\n       vfio-edu-selftest --fastpath-image PCI_ADDRESS BAR");
                return 2;
            }
        }
        i32::from(r.failed > 0)
    }
}

#[cfg(target_os = "linux")]
fn main() {
    std::process::exit(edu::main());
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("vfio-edu-selftest: VFIO exists only on Linux");
    std::process::exit(2);
}
