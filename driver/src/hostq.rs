//! [`HostQueues`]: the host queue pair as descriptor rings in host memory
//! ([`abi::hostring`]) over any [`Device`] with DMA buffers.
//!
//! Four DMA buffers are allocated once: each ring and one block of
//! fixed-size frame buffers per ring, buffer `i` serving descriptor `i`, so
//! no frame allocates. The RX ring is kept fully posted: a reap hands each
//! frame to the caller and posts its buffer again, with one doorbell per
//! reap. TX frames are staged with [`HostQueues::post_tx`] and sent with one
//! doorbell by [`HostQueues::flush_tx`]; [`HostQueues::reap_tx`] frees the
//! descriptors the NIC wrote back.

use crate::device::{Device, DeviceError, DmaBuffer};
use abi::hostq::{HostMetaError, HostRxMeta, HostTxMeta, HOST_RX_META_WORDS};
use abi::hostring::{Desc, DescStatus, DESC_BYTES};
use abi::regs::{
    HOSTQ_BAR, HOSTQ_MAX_LOG2_SIZE, HOSTQ_RING_ALIGN, HOSTQ_RX, HOSTQ_STRIDE, HOSTQ_TX, HQ_ENABLE,
    HQ_LOG2_SIZE, REG_HQ_BASE, REG_HQ_CTRL, REG_HQ_DROPS, REG_HQ_PROD,
};
use thiserror::Error;

/// Frames a burst moves (the datapath's burst).
pub const HOSTQ_BURST: usize = 32;

/// Ring geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostQueueConfig {
    /// log2 of each ring's descriptors.
    pub log2_entries: u8,
    /// Bytes of each frame buffer.
    pub buf_bytes: u16,
}

impl Default for HostQueueConfig {
    fn default() -> Self {
        HostQueueConfig {
            log2_entries: 9,
            buf_bytes: abi::action::MAX_PORT_FRAME as u16,
        }
    }
}

/// Why a host queue step failed.
#[derive(Debug, Error)]
pub enum HostQueueError {
    /// The configuration cannot be set up.
    #[error("host queues: {0}")]
    Config(String),
    /// The pipeline has no (usable) host-queue register block.
    #[error("host queues: {0}")]
    Block(#[from] abi::regs::BlockError),
    /// Allocating a ring or its buffers.
    #[error("host queues: allocating the {what}: {source}")]
    Alloc {
        /// Which allocation.
        what: &'static str,
        /// The device's error.
        #[source]
        source: DeviceError,
    },
    /// A register access or DMA buffer copy.
    #[error("host queues: {what}: {source}")]
    Device {
        /// What was being done.
        what: &'static str,
        /// The device's error.
        #[source]
        source: DeviceError,
    },
    /// The TX ring has no free descriptor (reap completions, or let the
    /// NIC catch up).
    #[error("host TX ring full ({entries} descriptors in flight)")]
    TxFull {
        /// Ring size.
        entries: usize,
    },
    /// A TX frame longer than a buffer.
    #[error("host TX frame of {len} bytes is longer than the {buf} byte buffers")]
    FrameTooLong {
        /// Frame bytes.
        len: usize,
        /// Buffer bytes.
        buf: usize,
    },
    /// The NIC wrote a descriptor back with an error status.
    #[error(
        "host {ring} descriptor {index}: {status:?} (frame {frame_len} bytes, buffer {buf_len})"
    )]
    Descriptor {
        /// "RX" or "TX".
        ring: &'static str,
        /// Ring index of the descriptor.
        index: u16,
        /// The status written back.
        status: DescStatus,
        /// `DESC_FRAME_LEN` written back.
        frame_len: u16,
        /// `DESC_BUF_LEN`.
        buf_len: u16,
    },
    /// A status code this driver does not know.
    #[error("host {ring} descriptor {index}: unknown status code {code}")]
    UnknownStatus {
        /// "RX" or "TX".
        ring: &'static str,
        /// Ring index.
        index: u16,
        /// The code.
        code: u8,
    },
    /// An RX descriptor's meta words did not decode.
    #[error("host RX descriptor {index}: {error}")]
    Meta {
        /// Ring index.
        index: u16,
        /// What is wrong.
        error: HostMetaError,
    },
}

/// Counters of the host side (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostQueueStats {
    /// Frames reaped from the RX ring.
    pub rx_frames: u64,
    /// RX descriptors written back with an error.
    pub rx_errors: u64,
    /// TX frames posted.
    pub tx_posted: u64,
    /// TX descriptors written back.
    pub tx_done: u64,
    /// TX descriptors written back with an error.
    pub tx_errors: u64,
}

struct Ring {
    desc: Box<dyn DmaBuffer>,
    bufs: Box<dyn DmaBuffer>,
    /// Index the host writes next (posted up to here).
    prod: u16,
    /// Next index the host reaps.
    next: u16,
    /// `prod` as last written to the doorbell.
    rung: u16,
}

/// The host queue pair as rings over a device's DMA buffers.
pub struct HostQueues {
    bar: u8,
    /// Offset of queue 0's registers in `bar` (from the host-queue block).
    base: u64,
    log2: u8,
    buf_bytes: u16,
    rx: Ring,
    tx: Ring,
    frame: Vec<u8>,
    stats: HostQueueStats,
}

impl std::fmt::Debug for HostQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostQueues")
            .field("entries", &self.entries())
            .field("buf_bytes", &self.buf_bytes)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn dev_err(what: &'static str) -> impl FnOnce(DeviceError) -> HostQueueError {
    move |source| HostQueueError::Device { what, source }
}

impl HostQueues {
    /// Allocates both rings and their buffers on `dev`, starts the rings
    /// (registers at offset 0 of [`HOSTQ_BAR`]) and posts every RX buffer.
    pub fn open<D: Device + ?Sized>(
        dev: &mut D,
        cfg: HostQueueConfig,
    ) -> Result<HostQueues, HostQueueError> {
        Self::open_at(dev, cfg, HOSTQ_BAR, 0)
    }

    /// [`HostQueues::open`] with the ring registers at `base` of BAR `bar`
    /// (what the pipeline's host-queue block names).
    pub fn open_at<D: Device + ?Sized>(
        dev: &mut D,
        cfg: HostQueueConfig,
        bar: u8,
        base: u64,
    ) -> Result<HostQueues, HostQueueError> {
        if !(1..=HOSTQ_MAX_LOG2_SIZE).contains(&cfg.log2_entries) {
            return Err(HostQueueError::Config(format!(
                "log2_entries {} is not in 1..={HOSTQ_MAX_LOG2_SIZE}",
                cfg.log2_entries
            )));
        }
        if cfg.buf_bytes == 0 {
            return Err(HostQueueError::Config("buf_bytes is 0".into()));
        }
        let n = 1usize << cfg.log2_entries;
        let mut alloc = |what, len| {
            dev.dma_alloc(len)
                .map_err(|source| HostQueueError::Alloc { what, source })
        };
        let ring = |desc, bufs| Ring {
            desc,
            bufs,
            prod: 0,
            next: 0,
            rung: 0,
        };
        let rx = ring(
            alloc("RX ring", n * DESC_BYTES)?,
            alloc("RX buffers", n * cfg.buf_bytes as usize)?,
        );
        let tx = ring(
            alloc("TX ring", n * DESC_BYTES)?,
            alloc("TX buffers", n * cfg.buf_bytes as usize)?,
        );
        for r in [&rx, &tx] {
            if !r.desc.iova().is_multiple_of(HOSTQ_RING_ALIGN) {
                return Err(HostQueueError::Config(format!(
                    "ring IOVA {:#x} is not {HOSTQ_RING_ALIGN}-byte aligned",
                    r.desc.iova()
                )));
            }
        }
        let mut q = HostQueues {
            bar,
            base,
            log2: cfg.log2_entries,
            buf_bytes: cfg.buf_bytes,
            rx,
            tx,
            frame: Vec::with_capacity(cfg.buf_bytes as usize),
            stats: HostQueueStats::default(),
        };
        let mut ctrl = [0u64];
        HQ_LOG2_SIZE.set(&mut ctrl, cfg.log2_entries as u64);
        HQ_ENABLE.set(&mut ctrl, 1);
        for (qi, base) in [(HOSTQ_RX, q.rx.desc.iova()), (HOSTQ_TX, q.tx.desc.iova())] {
            let off = q.base + qi as u64 * HOSTQ_STRIDE;
            dev.write64(q.bar, off + REG_HQ_CTRL, 0)
                .map_err(dev_err("stopping a ring"))?;
            dev.write64(q.bar, off + REG_HQ_BASE, base)
                .map_err(dev_err("writing a ring base"))?;
            dev.write64(q.bar, off + REG_HQ_CTRL, ctrl[0])
                .map_err(dev_err("starting a ring"))?;
        }
        for i in 0..n as u16 {
            q.write_rx_desc(i)?;
        }
        q.rx.prod = n as u16;
        q.ring_rx(dev)?;
        Ok(q)
    }

    /// Stops both rings, then frees them: the device must not reach the
    /// buffers after they are unmapped. (Dropping without `close` leaves the
    /// rings running on freed memory until the device is reset.)
    pub fn close<D: Device + ?Sized>(self, dev: &mut D) -> Result<(), HostQueueError> {
        for qi in [HOSTQ_RX, HOSTQ_TX] {
            dev.write64(
                self.bar,
                self.base + qi as u64 * HOSTQ_STRIDE + REG_HQ_CTRL,
                0,
            )
            .map_err(dev_err("stopping a ring"))?;
        }
        Ok(())
    }

    /// Descriptors per ring.
    pub fn entries(&self) -> usize {
        1 << self.log2
    }

    /// Bytes of each frame buffer.
    pub fn buf_bytes(&self) -> usize {
        self.buf_bytes as usize
    }

    /// Host-side counters.
    pub fn stats(&self) -> HostQueueStats {
        self.stats
    }

    fn slot(&self, i: u16) -> usize {
        (i as usize) & (self.entries() - 1)
    }

    fn read_desc(ring: &Ring, slot: usize) -> Result<Desc, HostQueueError> {
        let mut b = [0u8; DESC_BYTES];
        ring.desc
            .read(slot * DESC_BYTES, &mut b)
            .map_err(dev_err("reading a descriptor"))?;
        Ok(Desc::from_bytes(&b))
    }

    fn write_rx_desc(&mut self, i: u16) -> Result<(), HostQueueError> {
        let slot = self.slot(i);
        let d = Desc {
            addr: self.rx.bufs.iova() + (slot * self.buf_bytes()) as u64,
            buf_len: self.buf_bytes,
            ..Desc::default()
        };
        self.rx
            .desc
            .write(slot * DESC_BYTES, &d.to_bytes())
            .map_err(dev_err("posting an RX buffer"))
    }

    fn ring_rx<D: Device + ?Sized>(&mut self, dev: &mut D) -> Result<(), HostQueueError> {
        if self.rx.rung != self.rx.prod {
            let off = self.base + HOSTQ_RX as u64 * HOSTQ_STRIDE + REG_HQ_PROD;
            dev.write64(self.bar, off, self.rx.prod as u64)
                .map_err(dev_err("ringing the RX doorbell"))?;
            self.rx.rung = self.rx.prod;
        }
        Ok(())
    }

    /// Reaps up to `max` RX descriptors the NIC wrote back: each frame goes
    /// to `out` with its metadata, its buffer is posted again, and the
    /// doorbell is rung once. A descriptor written back with an error is
    /// reposted and returned as the error (frames before it were handed
    /// over; the next reap goes on after it). Returns the frames handed over.
    pub fn reap_rx<D: Device + ?Sized>(
        &mut self,
        dev: &mut D,
        max: usize,
        mut out: impl FnMut(HostRxMeta, &[u8]),
    ) -> Result<usize, HostQueueError> {
        let mut n = 0;
        let mut err = None;
        while n < max {
            let i = self.rx.next;
            let d = Self::read_desc(&self.rx, self.slot(i))?;
            if !d.done {
                break;
            }
            let step = self.rx_one(i, &d, &mut out);
            self.rx.next = i.wrapping_add(1);
            self.write_rx_desc(i)?;
            self.rx.prod = self.rx.prod.wrapping_add(1);
            match step {
                Ok(()) => n += 1,
                Err(e) => {
                    self.stats.rx_errors += 1;
                    err = Some(e);
                    break;
                }
            }
        }
        self.stats.rx_frames += n as u64;
        self.ring_rx(dev)?;
        err.map_or(Ok(n), Err)
    }

    fn rx_one(
        &mut self,
        index: u16,
        d: &Desc,
        out: &mut impl FnMut(HostRxMeta, &[u8]),
    ) -> Result<(), HostQueueError> {
        match DescStatus::from_code(d.status) {
            Some(DescStatus::Ok) => {}
            Some(status) => {
                return Err(HostQueueError::Descriptor {
                    ring: "RX",
                    index,
                    status,
                    frame_len: d.frame_len,
                    buf_len: d.buf_len,
                })
            }
            None => {
                return Err(HostQueueError::UnknownStatus {
                    ring: "RX",
                    index,
                    code: d.status,
                })
            }
        }
        if d.frame_len > self.buf_bytes {
            return Err(HostQueueError::Descriptor {
                ring: "RX",
                index,
                status: DescStatus::TooLong,
                frame_len: d.frame_len,
                buf_len: d.buf_len,
            });
        }
        let words: [u64; HOST_RX_META_WORDS] = d.meta;
        let meta =
            HostRxMeta::decode(&words).map_err(|error| HostQueueError::Meta { index, error })?;
        self.frame.resize(d.frame_len as usize, 0);
        let off = self.slot(index) * self.buf_bytes();
        self.rx
            .bufs
            .read(off, &mut self.frame)
            .map_err(dev_err("reading an RX frame"))?;
        out(meta, &self.frame);
        Ok(())
    }

    /// RX frames the NIC dropped for want of a posted buffer (its counter).
    pub fn rx_drops<D: Device + ?Sized>(&self, dev: &mut D) -> Result<u64, HostQueueError> {
        let off = self.base + HOSTQ_RX as u64 * HOSTQ_STRIDE + REG_HQ_DROPS;
        dev.read64(self.bar, off)
            .map_err(dev_err("reading the RX drop counter"))
    }

    /// TX descriptors posted and not reaped.
    pub fn tx_in_flight(&self) -> usize {
        self.tx.prod.wrapping_sub(self.tx.next) as usize
    }

    /// Stages `frame` with `meta` on the TX ring (sent at the next
    /// [`HostQueues::flush_tx`]).
    pub fn post_tx(&mut self, meta: &HostTxMeta, frame: &[u8]) -> Result<(), HostQueueError> {
        if frame.len() > self.buf_bytes() {
            return Err(HostQueueError::FrameTooLong {
                len: frame.len(),
                buf: self.buf_bytes(),
            });
        }
        if self.tx_in_flight() == self.entries() {
            return Err(HostQueueError::TxFull {
                entries: self.entries(),
            });
        }
        let slot = self.slot(self.tx.prod);
        let off = slot * self.buf_bytes();
        self.tx
            .bufs
            .write(off, frame)
            .map_err(dev_err("writing a TX frame"))?;
        let d = Desc {
            addr: self.tx.bufs.iova() + off as u64,
            buf_len: self.buf_bytes,
            frame_len: frame.len() as u16,
            meta: [meta.encode(), 0],
            ..Desc::default()
        };
        self.tx
            .desc
            .write(slot * DESC_BYTES, &d.to_bytes())
            .map_err(dev_err("writing a TX descriptor"))?;
        self.tx.prod = self.tx.prod.wrapping_add(1);
        self.stats.tx_posted += 1;
        Ok(())
    }

    /// Rings the TX doorbell for every frame staged since the last one.
    pub fn flush_tx<D: Device + ?Sized>(&mut self, dev: &mut D) -> Result<(), HostQueueError> {
        if self.tx.rung != self.tx.prod {
            let off = self.base + HOSTQ_TX as u64 * HOSTQ_STRIDE + REG_HQ_PROD;
            dev.write64(self.bar, off, self.tx.prod as u64)
                .map_err(dev_err("ringing the TX doorbell"))?;
            self.tx.rung = self.tx.prod;
        }
        Ok(())
    }

    /// Frees every TX descriptor the NIC wrote back; returns how many. One
    /// written back with an error is freed and returned as the error.
    pub fn reap_tx(&mut self) -> Result<usize, HostQueueError> {
        let mut n = 0;
        while self.tx.next != self.tx.rung {
            let i = self.tx.next;
            let d = Self::read_desc(&self.tx, self.slot(i))?;
            if !d.done {
                break;
            }
            self.tx.next = i.wrapping_add(1);
            self.stats.tx_done += 1;
            n += 1;
            let status = DescStatus::from_code(d.status);
            if status != Some(DescStatus::Ok) {
                self.stats.tx_errors += 1;
                return Err(match status {
                    Some(status) => HostQueueError::Descriptor {
                        ring: "TX",
                        index: i,
                        status,
                        frame_len: d.frame_len,
                        buf_len: d.buf_len,
                    },
                    None => HostQueueError::UnknownStatus {
                        ring: "TX",
                        index: i,
                        code: d.status,
                    },
                });
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heapdma::HeapDma;
    use abi::hostq::{HostRxReason, HostTxKind};
    use abi::hostring::{RingEngine, RxDelivery};
    use abi::regs::HOSTQ_WINDOW_BYTES;

    /// A device that is only the ring block and host memory, served by the
    /// reference engine when the test says so.
    struct RingDev {
        mem: HeapDma,
        engine: RingEngine,
    }

    impl RingDev {
        fn new() -> RingDev {
            RingDev {
                mem: HeapDma::default(),
                engine: RingEngine::default(),
            }
        }

        fn deliver(&mut self, meta: &HostRxMeta, frame: &[u8]) -> RxDelivery {
            let e = &mut self.engine;
            self.mem.with(|m| e.deliver_rx(m, &meta.encode(), frame))
        }

        fn serve_tx(&mut self, max: usize) -> Vec<(HostTxMeta, Vec<u8>)> {
            let (e, mut got, mut scratch) = (&mut self.engine, Vec::new(), Vec::new());
            self.mem.with(|m| {
                e.fetch_tx(m, max, &mut scratch, |w, f| {
                    got.push((HostTxMeta::decode(w), f.to_vec()))
                })
            });
            got
        }
    }

    impl Device for RingDev {
        fn name(&self) -> &str {
            "ringdev"
        }
        fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
            if bar == HOSTQ_BAR {
                Ok(HOSTQ_WINDOW_BYTES)
            } else {
                Err(DeviceError::NoSuchBar {
                    device: "ringdev".into(),
                    bar,
                    present: HOSTQ_BAR.to_string(),
                })
            }
        }
        fn read32(&mut self, _: u8, _: u64) -> Result<u32, DeviceError> {
            Err(DeviceError::Unsupported {
                device: "ringdev".into(),
                what: "32-bit access",
            })
        }
        fn write32(&mut self, _: u8, _: u64, _: u32) -> Result<(), DeviceError> {
            self.read32(0, 0).map(|_| ())
        }
        fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
            crate::check_access("ringdev", bar, self.bar_len(bar)?, offset, 8)?;
            Ok(self.engine.read_reg(offset).unwrap_or(0))
        }
        fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
            crate::check_access("ringdev", bar, self.bar_len(bar)?, offset, 8)?;
            self.engine.write_reg(offset, value);
            Ok(())
        }
        fn dma_alloc(&mut self, len: usize) -> Result<Box<dyn DmaBuffer>, DeviceError> {
            Ok(self.mem.alloc(len))
        }
    }

    fn cfg(log2: u8, buf: u16) -> HostQueueConfig {
        HostQueueConfig {
            log2_entries: log2,
            buf_bytes: buf,
        }
    }

    fn rx_meta(in_port: u16, len: usize) -> HostRxMeta {
        HostRxMeta {
            reason: HostRxReason::Miss,
            exception: None,
            malformed: None,
            bad_ip_version: false,
            key_valid: false,
            in_port,
            frame_len: len as u16,
            mark: 0,
            hash: 0x1234,
        }
    }

    fn tx_meta(port: u16, len: usize) -> HostTxMeta {
        HostTxMeta {
            kind: HostTxKind::Output,
            port,
            frame_len: len as u16,
        }
    }

    fn frame(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|b| (i * 31 + b) as u8).collect()
    }

    fn reap_all(q: &mut HostQueues, dev: &mut RingDev) -> Vec<(HostRxMeta, Vec<u8>)> {
        let mut got = Vec::new();
        let n = q
            .reap_rx(dev, HOSTQ_BURST, |m, f| got.push((m, f.to_vec())))
            .unwrap();
        assert_eq!(n, got.len());
        got
    }

    #[test]
    fn rx_wraps_around_many_times_in_order() {
        let mut dev = RingDev::new();
        let mut q = HostQueues::open(&mut dev, cfg(3, 256)).unwrap();
        let mut next = 0;
        // 8-entry ring, bursts of 5: the indices wrap the ring and, after
        // 2^16 frames, the 16-bit index itself.
        for burst in 0..13_200 {
            for k in 0..5 {
                let i = burst * 5 + k;
                let f = frame(i, 60 + i % 100);
                assert_eq!(
                    dev.deliver(&rx_meta(i as u16, f.len()), &f),
                    RxDelivery::Delivered
                );
            }
            for (m, f) in reap_all(&mut q, &mut dev) {
                assert_eq!(f, frame(next, 60 + next % 100));
                assert_eq!(m.in_port, next as u16);
                next += 1;
            }
        }
        assert_eq!(next, 66_000);
        assert_eq!(q.rx_drops(&mut dev).unwrap(), 0);
        assert_eq!(q.stats().rx_frames, 66_000);
    }

    #[test]
    fn rx_out_of_buffers_is_a_counted_drop() {
        let mut dev = RingDev::new();
        let mut q = HostQueues::open(&mut dev, cfg(2, 128)).unwrap();
        for i in 0..6 {
            let f = frame(i, 64);
            let want = if i < 4 {
                RxDelivery::Delivered
            } else {
                RxDelivery::Dropped(None)
            };
            assert_eq!(dev.deliver(&rx_meta(1, 64), &f), want, "frame {i}");
        }
        assert_eq!(q.rx_drops(&mut dev).unwrap(), 2);
        let got = reap_all(&mut q, &mut dev);
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].1, frame(3, 64));
        // Reaping posted the buffers again.
        assert_eq!(
            dev.deliver(&rx_meta(1, 64), &frame(9, 64)),
            RxDelivery::Delivered
        );
        assert_eq!(reap_all(&mut q, &mut dev)[0].1, frame(9, 64));
        // Closed, the rings take nothing more: frames are counted drops.
        q.close(&mut dev).unwrap();
        assert_eq!(
            dev.deliver(&rx_meta(1, 64), &frame(10, 64)),
            RxDelivery::Dropped(None)
        );
        assert!(!dev.engine.enabled(HOSTQ_RX) && !dev.engine.enabled(HOSTQ_TX));
    }

    #[test]
    fn rx_frame_longer_than_its_buffer_is_an_error_naming_it() {
        let mut dev = RingDev::new();
        let mut q = HostQueues::open(&mut dev, cfg(2, 100)).unwrap();
        dev.deliver(&rx_meta(1, 64), &frame(0, 64));
        assert_eq!(
            dev.deliver(&rx_meta(1, 101), &frame(1, 101)),
            RxDelivery::Dropped(Some(DescStatus::TooLong))
        );
        dev.deliver(&rx_meta(1, 64), &frame(2, 64));
        let mut got = Vec::new();
        let e = q
            .reap_rx(&mut dev, HOSTQ_BURST, |_, f| got.push(f.to_vec()))
            .unwrap_err();
        assert!(
            matches!(
                e,
                HostQueueError::Descriptor {
                    ring: "RX",
                    index: 1,
                    status: DescStatus::TooLong,
                    frame_len: 101,
                    buf_len: 100
                }
            ),
            "{e}"
        );
        assert_eq!(got, [frame(0, 64)]);
        // The next reap goes on after the bad descriptor.
        assert_eq!(reap_all(&mut q, &mut dev)[0].1, frame(2, 64));
        assert_eq!(q.stats().rx_errors, 1);
    }

    #[test]
    fn tx_backpressure_then_drain_in_order() {
        let mut dev = RingDev::new();
        let mut q = HostQueues::open(&mut dev, cfg(2, 128)).unwrap();
        for i in 0..4 {
            q.post_tx(&tx_meta(2, 60 + i), &frame(i, 60 + i)).unwrap();
        }
        assert!(matches!(
            q.post_tx(&tx_meta(2, 60), &frame(4, 60)),
            Err(HostQueueError::TxFull { entries: 4 })
        ));
        // Nothing moves before the doorbell.
        assert!(dev.serve_tx(8).is_empty());
        q.flush_tx(&mut dev).unwrap();
        let sent = dev.serve_tx(3);
        assert_eq!(sent.len(), 3);
        assert_eq!(q.reap_tx().unwrap(), 3);
        assert_eq!(q.tx_in_flight(), 1);
        // Wrap: three more fit, a fourth does not.
        for i in 4..7 {
            q.post_tx(&tx_meta(3, 70), &frame(i, 70)).unwrap();
        }
        assert!(matches!(
            q.post_tx(&tx_meta(3, 70), &frame(7, 70)),
            Err(HostQueueError::TxFull { .. })
        ));
        q.flush_tx(&mut dev).unwrap();
        let sent: Vec<_> = sent.into_iter().chain(dev.serve_tx(8)).collect();
        assert_eq!(q.reap_tx().unwrap(), 4);
        assert_eq!(q.tx_in_flight(), 0);
        let want: Vec<_> = (0..7)
            .map(|i| {
                let len = if i < 4 { 60 + i } else { 70 };
                (tx_meta(if i < 4 { 2 } else { 3 }, len), frame(i, len))
            })
            .collect();
        assert_eq!(sent, want);
    }

    #[test]
    fn bad_tx_descriptors_are_clear_errors() {
        let mut dev = RingDev::new();
        let mut q = HostQueues::open(&mut dev, cfg(2, 128)).unwrap();
        assert!(matches!(
            q.post_tx(&tx_meta(2, 129), &frame(0, 129)),
            Err(HostQueueError::FrameTooLong { len: 129, buf: 128 })
        ));
        assert_eq!(q.tx_in_flight(), 0);
        // A descriptor corrupted after posting (frame_len > buf_len) is
        // refused by the engine and reported by the reap.
        q.post_tx(&tx_meta(2, 64), &frame(0, 64)).unwrap();
        let mut d = HostQueues::read_desc(&q.tx, 0).unwrap();
        d.frame_len = 200;
        q.tx.desc.write(0, &d.to_bytes()).unwrap();
        q.post_tx(&tx_meta(2, 64), &frame(1, 64)).unwrap();
        q.flush_tx(&mut dev).unwrap();
        assert_eq!(dev.serve_tx(8), [(tx_meta(2, 64), frame(1, 64))]);
        let e = q.reap_tx().unwrap_err();
        assert!(
            matches!(
                e,
                HostQueueError::Descriptor {
                    ring: "TX",
                    index: 0,
                    status: DescStatus::TooLong,
                    frame_len: 200,
                    buf_len: 128
                }
            ),
            "{e}"
        );
        assert_eq!(q.reap_tx().unwrap(), 1);
        assert_eq!(q.stats().tx_errors, 1);
    }

    #[test]
    fn bad_configurations_and_backends_are_refused() {
        let mut dev = RingDev::new();
        assert!(matches!(
            HostQueues::open(&mut dev, cfg(0, 128)),
            Err(HostQueueError::Config(_))
        ));
        assert!(matches!(
            HostQueues::open(&mut dev, cfg(16, 128)),
            Err(HostQueueError::Config(_))
        ));
        struct NoDma;
        impl Device for NoDma {
            fn name(&self) -> &str {
                "nodma"
            }
            fn bar_len(&self, _: u8) -> Result<u64, DeviceError> {
                Ok(0x1000)
            }
            fn read32(&mut self, _: u8, _: u64) -> Result<u32, DeviceError> {
                Ok(0)
            }
            fn write32(&mut self, _: u8, _: u64, _: u32) -> Result<(), DeviceError> {
                Ok(())
            }
            fn read64(&mut self, _: u8, _: u64) -> Result<u64, DeviceError> {
                Ok(0)
            }
            fn write64(&mut self, _: u8, _: u64, _: u64) -> Result<(), DeviceError> {
                Ok(())
            }
        }
        assert!(matches!(
            HostQueues::open(&mut NoDma, HostQueueConfig::default()),
            Err(HostQueueError::Alloc {
                what: "RX ring",
                source: DeviceError::Unsupported { .. }
            })
        ));
    }
}
