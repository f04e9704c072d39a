//! [`HwLookup`] for the simulated NIC: keys go into the Verilated
//! pipeline's lookup port with their tags, results come back in order,
//! misses wait in the RTL's miss queue and are drained through registers.

use super::hw::{HwError, HwLookup};
use abi::regs::LookupResult;
use abi::FlowKey;
use driver::{Miss, Nic};
use sim::{SimNic, SimResult};
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
