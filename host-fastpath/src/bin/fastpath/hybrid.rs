//! `fastpath run --nic sim|vfio:BDF`: the hybrid datapath — hardware
//! tables first, software for every miss — and where each packet was
//! handled.
#![cfg_attr(not(feature = "sim"), allow(dead_code, unused_imports))]

use super::{pct, Outputs, PcapSink, RunArgs, SinkExt, Traffic};
use anyhow::{bail, Context, Result};
use fastpath::dpif::{CountingSink, DpConfig, Pmd, REVALIDATE_INTERVAL_MS};
use fastpath::nic_spec::NicSpec;
use fastpath::offload::{HwLookup, HybridDp, OffloadConfig, OffloadCounters};
use fastpath::ofproto::OfProto;
use fastpath::stats::{OffloadRunStats, RunStats, Timing};
use fastpath::BURST;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn offload_config(a: &RunArgs) -> OffloadConfig {
    let d = OffloadConfig::default();
    OffloadConfig {
        widen: a.widen.unwrap_or(d.widen),
        max_slots: a.mask_slots,
        emc_insert_inv_prob: a.hw_emc_insert_inv_prob.unwrap_or(d.emc_insert_inv_prob),
        ..d
    }
}

/// NIC option checks known before the NIC is opened.
pub fn check_options(a: &RunArgs) -> Result<()> {
    #[cfg(feature = "sim")]
    if let (NicSpec::Sim, Some(n)) = (&a.nic, a.mask_slots) {
        let slots = sim::GEOMETRY.mf_slots;
        if n > slots {
            bail!("--mask-slots {n}: the simulated NIC has {slots} mask slots (give 0..={slots})");
        }
    }
    let _ = a;
    Ok(())
}

/// Runs the hybrid datapath on the NIC `--nic` names (not `none`).
/// `loaded` is when the rules were loaded: their timeouts count from it.
pub fn run(
    a: &RunArgs,
    of: &mut OfProto,
    loaded: Instant,
    traffic: &Traffic,
    cfg: DpConfig,
    outputs: Outputs,
) -> Result<()> {
    let ocfg = offload_config(a);
    match &a.nic {
        NicSpec::None => bail!("internal: --nic none runs the software datapath"),
        NicSpec::Vfio(bdf) => run_vfio(bdf),
        NicSpec::Sim => run_sim(a, of, loaded, traffic, cfg, ocfg, outputs),
    }
}

#[cfg(target_os = "linux")]
fn run_vfio(bdf: &str) -> Result<()> {
    let dev =
        driver::vfio::open(bdf).with_context(|| format!("--nic vfio:{bdf}: opening the device"))?;
    let nic = driver::Nic::open(dev)
        .with_context(|| format!("--nic vfio:{bdf}: opening the fastpath pipeline"))?;
    bail!(
        "--nic vfio:{bdf}: {:?} is up, but on a board lookups come from the wire and this build has no \
         packet I/O for it yet; use --nic sim to run traces",
        nic
    )
}

#[cfg(not(target_os = "linux"))]
fn run_vfio(bdf: &str) -> Result<()> {
    bail!("--nic vfio:{bdf}: VFIO exists only on Linux")
}

#[cfg(feature = "sim")]
fn run_sim(
    a: &RunArgs,
    of: &mut OfProto,
    loaded: Instant,
    traffic: &Traffic,
    cfg: DpConfig,
    ocfg: OffloadConfig,
    outputs: Outputs,
) -> Result<()> {
    let sim = sim::SimNic::new().context("--nic sim: creating the Verilated model")?;
    let nic = driver::Nic::open(sim).context("--nic sim: opening the simulated pipeline")?;
    let g = *nic.geometry();
    let desc = format!(
        "simulated (Verilated RTL): {} mask slots x {} entries, {}-entry EMC, widen {}",
        g.mf_slots,
        g.mf_entries_per_slot(),
        g.emc_entries(),
        ocfg.widen
    );
    let mut pmd = Pmd::new(cfg)?;
    pmd.set_clock_start(loaded);
    let dp = HybridDp::new(pmd, nic, ocfg);
    drive(a, of, loaded, traffic, dp, &desc, outputs)
}

#[cfg(not(feature = "sim"))]
fn run_sim(
    _: &RunArgs,
    _: &mut OfProto,
    _: Instant,
    _: &Traffic,
    _: DpConfig,
    _: OffloadConfig,
    _: Outputs,
) -> Result<()> {
    bail!("--nic sim: this fastpath was built without the `sim` feature; use --nic none")
}

fn drive<H: HwLookup>(
    a: &RunArgs,
    of: &mut OfProto,
    loaded: Instant,
    traffic: &Traffic,
    mut dp: HybridDp<H>,
    desc: &str,
    outputs: Outputs,
) -> Result<()> {
    let mut sink: Box<dyn SinkExt> = match &a.out_pcap {
        Some(p) => Box::new(PcapSink {
            prefix: p.clone(),
            files: HashMap::new(),
            counts: CountingSink::default(),
            error: None,
            ts: 0,
        }),
        None => Box::new(CountingSink::default()),
    };
    let mut burst: Vec<&[u8]> = Vec::with_capacity(BURST);
    let mut last_reval = Instant::now();
    let timed = of.has_timeouts();
    let expired = std::cell::Cell::new(0u64);
    // Expire rules with timeouts, then revalidate (which re-translates the
    // flows if the table changed, invalidating their hardware entries).
    let revalidate = |of: &mut OfProto, dp: &mut HybridDp<H>| {
        if timed {
            expired.set(expired.get() + super::expire_rules(of, loaded) as u64);
        }
        dp.revalidate(of, false);
    };
    let mut pass = |of: &mut OfProto, dp: &mut HybridDp<H>, sink: &mut dyn SinkExt| -> Result<()> {
        for chunk in traffic.seq.chunks(BURST) {
            burst.clear();
            burst.extend(chunk.iter().map(|&i| traffic.frames[i as usize].as_slice()));
            dp.process_burst(of, &burst, a.in_port, sink.as_sink())
                .context("simulated NIC")?;
            if last_reval.elapsed() >= Duration::from_millis(REVALIDATE_INTERVAL_MS) {
                revalidate(of, dp);
                last_reval = Instant::now();
            }
        }
        Ok(())
    };
    let mut warm = Box::new(CountingSink::default()) as Box<dyn SinkExt>;
    for _ in 0..a.warmup {
        pass(of, &mut dp, warm.as_mut())?;
        revalidate(of, &mut dp);
    }
    let base = dp.counters();
    let (pmd_base, malformed_base) = (dp.pmd.stats, dp.pmd.extract_stats.malformed());
    let start = Instant::now();
    let c0 = super::rdtsc();
    for _ in 0..a.loops {
        pass(of, &mut dp, sink.as_mut())?;
    }
    let cycles = super::rdtsc().wrapping_sub(c0);
    let elapsed = start.elapsed();
    dp.sync_stats();
    let c = dp.counters().since(&base);
    let (counts, error) = sink.finish();
    if let Some(e) = error {
        return Err(e);
    }
    let timing = Timing {
        seconds: elapsed.as_secs_f64(),
        busy_ns: elapsed.as_nanos() as u64,
        cycles,
    };
    let sw = dp.pmd.stats.since(&pmd_base);
    let malformed = dp.pmd.extract_stats.malformed() - malformed_base;
    let run = Run {
        rules_expired: expired.get(),
        c: &c,
        sw: &sw,
        malformed,
        timing,
        desc,
        counts: &counts,
    };
    report(a, of, &mut dp, &run, outputs)
}

/// What the timed passes counted.
struct Run<'a> {
    rules_expired: u64,
    c: &'a OffloadCounters,
    sw: &'a fastpath::dpif::PmdStats,
    malformed: u64,
    timing: Timing,
    desc: &'a str,
    counts: &'a CountingSink,
}

fn report<H: HwLookup>(
    a: &RunArgs,
    of: &OfProto,
    dp: &mut HybridDp<H>,
    run: &Run<'_>,
    outputs: Outputs,
) -> Result<()> {
    let Run {
        rules_expired,
        c,
        desc,
        counts,
        ..
    } = *run;
    let secs = run.timing.seconds;
    let p = c.packets;
    let flows = dp.pmd.n_flows();
    let offloaded = dp
        .pmd
        .flows()
        .filter(|(id, _)| dp.mgr.flow_offload(*id).offloaded())
        .count();
    let (mf_entries, emc_entries) = dp.mgr.entries();
    let slots_used = dp.mgr.slot_masks().iter().flatten().count();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "fastpath run: {}, NIC {desc}",
        super::rules_summary(of, rules_expired)
    );
    let _ = writeln!(
        o,
        "  Rx packets:          {:>12}  ({:.3} Mpps simulated end to end, {:.3} s)",
        p,
        if secs > 0.0 {
            p as f64 / secs / 1e6
        } else {
            0.0
        },
        secs
    );
    let _ = writeln!(o, "  Where packets were handled:");
    for (name, n) in [
        ("hw EMC", c.hw_emc_hits),
        ("hw megaflow", c.hw_megaflow_hits),
        ("sw EMC", c.sw_emc_hits),
        ("sw megaflow", c.sw_megaflow_hits),
        ("upcall", c.upcalls),
    ] {
        let _ = writeln!(o, "    {name:<16}   {n:>12}  ({:5.1} %)", pct(n, p));
    }
    // Totals in the software datapath's terms (`--nic none` prints these).
    let emc = c.hw_emc_hits + c.sw_emc_hits;
    let mf = c.hw_megaflow_hits + c.sw_megaflow_hits;
    let _ = writeln!(
        o,
        "  - EMC hits:          {emc:>12}  ({:5.1} %, hw + sw)",
        pct(emc, p)
    );
    let _ = writeln!(
        o,
        "  - Megaflow hits:     {mf:>12}  ({:5.1} %, hw + sw)",
        pct(mf, p)
    );
    let _ = writeln!(
        o,
        "  - Upcalls:           {:>12}  ({:5.1} %)",
        c.upcalls,
        pct(c.upcalls, p)
    );
    let _ = writeln!(o, "  Offload counters:");
    let _ = writeln!(
        o,
        "    handled fully in hw {:>12}  ({:5.1} %)",
        c.hw_handled(),
        pct(c.hw_handled(), p)
    );
    let _ = writeln!(o, "    hw miss             {:>12}", c.hw_misses);
    let _ = writeln!(
        o,
        "    offload failure     {:>12}  (table full {}, no mask slot {}, device {})",
        c.offload_failures,
        c.offload_fail_table_full,
        c.offload_fail_no_slot,
        c.offload_fail_device
    );
    let _ = writeln!(
        o,
        "    pipeline abort      {:>12}  (miss-queue drops {})",
        c.pipeline_aborts, c.miss_queue_drops
    );
    let _ = writeln!(
        o,
        "    installs            own mask {}, widened {}, hw EMC {} ({} replaced); slots assigned {}, evicted {} ({} entries)",
        c.mf_installs, c.widened_installs, c.emc_installs, c.emc_evictions, c.mask_assignments, c.mask_evictions, c.entries_evicted
    );
    let _ = writeln!(
        o,
        "    widening trade      {} widened entries earned {} hw hits ({:.1} per entry)",
        c.widened_installs,
        c.widened_hits,
        c.widened_hits as f64 / c.widened_installs.max(1) as f64
    );
    let _ = writeln!(
        o,
        "  Forwarded:           {:>12}  ({} copies sent)",
        c.forwarded, c.tx_packets
    );
    let _ = writeln!(o, "  Dropped by actions:  {:>12}", c.dropped);
    let _ = writeln!(o, "  Lost:                {:>12}", c.lost);
    if run.malformed > 0 {
        let _ = writeln!(
            o,
            "  Malformed frames:    {:>12}  (parsed as far as possible)",
            run.malformed
        );
    }
    let _ = writeln!(
        o,
        "  Megaflows:           {:>12}  in {} masks, {} offloaded; hw entries: {} megaflow in {} slots, {} EMC",
        flows,
        dp.pmd.dpcls.mask_count(),
        offloaded,
        mf_entries,
        slots_used,
        emc_entries
    );
    if let Some(e) = &dp.mgr.last_error {
        let _ = writeln!(o, "  Last offload error:  {e}");
    }
    for (port, n, b) in &counts.ports {
        let _ = writeln!(o, "  Tx port {port:<6}       {n:>12}  packets, {b} bytes");
    }
    print!("{o}");
    let mut js = RunStats::from_hybrid(
        &a.nic.to_string(),
        run.sw,
        c,
        run.malformed,
        &run.timing,
        OffloadRunStats {
            widen: dp.mgr.config().widen.to_string(),
            offloaded_megaflows: offloaded,
            hw_megaflow_entries: mf_entries,
            hw_emc_entries: emc_entries,
            hw_slots_used: slots_used,
            ..OffloadRunStats::default()
        },
    );
    js.megaflows = flows;
    js.masks = dp.pmd.dpcls.mask_count();
    js.flow_limit = dp.pmd.flow_limit();
    js.rules = of.n_rules();
    js.rules_expired = rules_expired;
    js.tx_ports = counts.ports.iter().map(|&(p, n, _)| (p, n)).collect();
    outputs.write(
        || {
            let mut s = String::from("flow-dump from pmd on cpu core: 0\n");
            for l in dp.dump_flows() {
                s.push_str(&l);
                s.push('\n');
            }
            s
        },
        &js,
    )
}
