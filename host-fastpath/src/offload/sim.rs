//! The simulated NICs behind the offload traits. [`HwLookup`] for the
//! look-aside NIC (`--nic sim-lookup`): keys go into the Verilated
//! pipeline's lookup port with their tags, results come back in order,
//! misses wait in the RTL's miss queue and are drained through registers.
//! [`FramePath`] for the NIC with a packet path (`--nic sim`): frames in on
//! its MAC RX ports, out of its MAC TX ports; the host queue pair through
//! the descriptor rings of [`driver::HostQueues`], as on a board.

use super::hw::{HwError, HwLookup};
use super::inline::{FramePath, LookupCounts, NicFrames, NicRun};
use abi::action_stage::ActionCounter;
use abi::hostq::{HostRxMeta, HostTxMeta};
use abi::regs::LookupResult;
use abi::FlowKey;
use driver::{HostQueueError, Miss, Nic, HOSTQ_BURST};
use sim::{Frames, SimFastpathNic, SimNic, SimResult};
use std::cell::RefCell;

thread_local! {
    /// Results of one burst, reused so the hot path does not allocate.
    static RESULTS: RefCell<Vec<SimResult>> = const { RefCell::new(Vec::new()) };
}

impl HwLookup for Nic<SimNic> {
    fn lookup_burst(
        &mut self,
        keys: &[FlowKey],
        tags: &[u32],
        out: &mut Vec<(u32, LookupResult)>,
    ) -> Result<(), HwError> {
        RESULTS.with_borrow_mut(|res| {
            res.clear();
            self.device()
                .lookup_burst(keys, tags, res)
                .map_err(|e| HwError::Device(format!("simulated NIC: {e}")))?;
            for r in res.iter() {
                let lr = r
                    .result()
                    .map_err(|e| HwError::Device(format!("simulated NIC result: {e}")))?;
                out.push((r.tag, lr));
            }
            Ok(())
        })
    }

    fn drain_misses(&mut self, out: &mut [Miss]) -> Result<usize, HwError> {
        Ok(Nic::drain_misses(self, out)?)
    }
}

/// Cycles one run of the NIC may take before it is a failure: a burst of
/// 32 jumbo frames on 64-bit streams is ~37 K beats; this leaves room for
/// backpressure and the host TX queue.
const RUN_BUDGET_CYCLES: u64 = 4_000_000;

impl FramePath for Nic<SimFastpathNic> {
    fn queue_mac_rx(&mut self, mac: usize, frame: &[u8]) -> Result<(), HwError> {
        self.device()
            .queue_rx(mac, frame)
            .map_err(|e| HwError::Device(format!("simulated NIC: {e}")))
    }

    fn queue_host_tx(&mut self, meta: &HostTxMeta, frame: &[u8]) {
        let r = post_host_tx(self, meta, frame);
        if let Err(e) = r {
            // The trait's caller cannot take an error here; the next run
            // returns it (the frame then counts as lost).
            HOST_TX_ERROR.with_borrow_mut(|slot| {
                slot.get_or_insert_with(|| format!("simulated NIC host TX ring: {e}"));
            });
        }
    }

    fn run(
        &mut self,
        tx: &mut NicFrames<u16>,
        host_rx: &mut NicFrames<HostRxMeta>,
    ) -> Result<NicRun, HwError> {
        if let Some(e) = HOST_TX_ERROR.with_borrow_mut(Option::take) {
            return Err(HwError::Device(e));
        }
        let ring = |e: HostQueueError| HwError::Device(format!("simulated NIC host rings: {e}"));
        let (dev, q) = self.host_queues().map_err(ring)?;
        q.flush_tx(dev).map_err(ring)?;
        q.reap_tx().map_err(ring)?;
        let before = dev.counters();
        let ran = dev.run_until_idle(RUN_BUDGET_CYCLES);
        let after = dev.counters();
        // 32-bit counter ports, wrapping.
        let delta = |c: ActionCounter| after.action(c).wrapping_sub(before.action(c)) & 0xffff_ffff;
        let run = NicRun {
            forwarded: delta(ActionCounter::Forwarded),
            dropped: delta(ActionCounter::Dropped),
        };
        TX_FRAMES.with_borrow_mut(|t| {
            t.clear();
            dev.take_tx(t);
            for (p, f) in t.iter() {
                tx.push(p as u16, f);
            }
        });
        while q
            .reap_rx(dev, HOSTQ_BURST, |m, f| host_rx.push(m, f))
            .map_err(ring)?
            > 0
        {}
        ran.map_err(|e| HwError::Device(format!("simulated NIC: {e}")))?;
        Ok(run)
    }

    fn lookup_counts(&mut self) -> Result<LookupCounts, HwError> {
        let c = self.counters()?;
        Ok(LookupCounts {
            emc_hits: c.emc_hits,
            mf_hits: c.mf_hits,
            misses: c.misses,
        })
    }
}

/// Stages a host TX frame on the TX ring; a full ring is sent (the model's
/// H2C engine fetches on the doorbell) and reaped first.
fn post_host_tx(
    nic: &mut Nic<SimFastpathNic>,
    meta: &HostTxMeta,
    frame: &[u8],
) -> Result<(), HostQueueError> {
    let (dev, q) = nic.host_queues()?;
    match q.post_tx(meta, frame) {
        Err(HostQueueError::TxFull { .. }) => {
            q.flush_tx(dev)?;
            q.reap_tx()?;
            q.post_tx(meta, frame)
        }
        r => r,
    }
}

thread_local! {
    /// The model's MAC TX frames of one run, reused.
    static TX_FRAMES: RefCell<Frames<u8>> = RefCell::new(Frames::default());
    /// A host TX ring failure, for the next run to return.
    static HOST_TX_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}
