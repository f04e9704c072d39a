//! `fastpath nic …` subcommands.

use anyhow::{Context, Result};
use clap::Subcommand;

/// NIC subcommands.
#[derive(Subcommand)]
pub enum NicCmd {
    /// Open a device and print its capability block.
    ///
    /// Through VFIO (the function bound to vfio-pci), or with `sysfs:` through
    /// /sys/bus/pci/devices/BDF/resourceN, which coexists with a shell's own
    /// kernel driver (OpenNIC's onic, Corundum's mqnic) and needs root.
    #[command(after_help = "Examples:
  fastpath nic probe --device 0000:03:00.0
  fastpath nic probe --device sysfs:0000:03:00.0 --bar 2 --json")]
    Probe {
        /// `[vfio:|sysfs:]ADDRESS`, where ADDRESS is a PCI address
        /// (0000:03:00.0) or a sysfs path (/sys/bus/pci/devices/0000:03:00.0).
        #[arg(long)]
        device: String,
        /// BAR holding the fastpath register window.
        #[arg(long, default_value_t = 0)]
        bar: u8,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a NIC subcommand. The error is one line ([`crate::run::one_line`]).
pub fn run(cmd: NicCmd) -> Result<()> {
    match cmd {
        NicCmd::Probe { device, bar, json } => probe(&device, bar, json),
    }
    .map_err(crate::run::one_line)
}

#[cfg(target_os = "linux")]
fn probe(device: &str, bar: u8, json: bool) -> Result<()> {
    use driver::Device;
    // What the access path adds to the report: the IOMMU group under VFIO.
    let (mut dev, (vendor, dev_id), group): (Box<dyn Device>, _, Option<u32>) =
        if let Some(path) = device.strip_prefix("sysfs:") {
            let dev = driver::sysfs::SysfsDevice::open(path)
                .with_context(|| format!("opening {path} through sysfs"))?;
            let ids = dev.ids()?;
            (Box::new(dev), ids, None)
        } else {
            let path = device.strip_prefix("vfio:").unwrap_or(device);
            let dev = driver::vfio::open(path).with_context(|| format!("opening {path}"))?;
            let ids = dev.ids()?;
            let group = dev.target().group;
            (Box::new(dev), ids, Some(group))
        };
    let name = dev.name().to_string();
    let (blocks, cap) = driver::Nic::probe_blocks(&mut dev, bar)
        .with_context(|| format!("probing {name} ({vendor:04x}:{dev_id:04x})"))?;
    let block_name = |b: &abi::regs::FoundBlock| {
        b.ty.map_or_else(
            || format!("unknown {:#06x}", b.code),
            |t| t.name().to_string(),
        )
    };
    let access = match group {
        Some(g) => format!("VFIO, IOMMU group {g}"),
        None => "sysfs".to_string(),
    };
    let g = cap.geometry;
    if json {
        println!(
            concat!(
                "{{\"device\":\"{}\",\"vendor\":\"{:04x}\",\"device_id\":\"{:04x}\",\"access\":\"{}\",\"iommu_group\":{},",
                "\"abi_major\":{},\"abi_minor\":{},\"key_words\":{},\"hash_id\":{},\"latency_cycles\":{},",
                "\"flow_id_bits\":{},\"index_bits\":{},\"counter_bits\":{},\"emc_ways\":{},",
                "\"emc_log2_entries\":{},\"mf_slots\":{},\"mf_log2_buckets\":{},\"mf_bucket_slots\":{},",
                "\"missq_log2_depth\":{},\"mac_ports\":{},\"action_vlan\":{},\"action_eth\":{},\"clock_khz\":{},",
                "\"blocks\":[{}]}}"
            ),
            name,
            vendor,
            dev_id,
            if group.is_some() { "vfio" } else { "sysfs" },
            group.map_or("null".to_string(), |g| g.to_string()),
            cap.abi_major,
            cap.abi_minor,
            cap.key_words,
            cap.hash_id,
            cap.latency,
            cap.flow_id_bits,
            cap.index_bits,
            cap.counter_bits,
            cap.emc_ways,
            g.emc_log2_entries,
            g.mf_slots,
            g.mf_log2_buckets,
            g.mf_bucket_slots,
            g.missq_log2_depth,
            cap.mac_ports,
            cap.action_vlan,
            cap.action_eth,
            cap.clock_khz,
            blocks
                .list
                .iter()
                .map(|b| format!(
                    "{{\"type\":\"{}\",\"code\":{},\"version\":\"{}.{}\",\"base\":{},\"size\":{}}}",
                    block_name(b),
                    b.code,
                    b.major,
                    b.minor,
                    b.base,
                    b.size
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
    } else {
        let clock = match cap.clock_khz {
            0 => "unknown".to_string(),
            k => format!("{:.3} MHz", k as f64 / 1000.0),
        };
        println!("device          {name} ({vendor:04x}:{dev_id:04x}, {access}, BAR {bar})");
        println!("ABI             {}.{}", cap.abi_major, cap.abi_minor);
        println!(
            "key             {} words, hash id {}",
            cap.key_words, cap.hash_id
        );
        println!("lookup latency  {} cycles, clock {clock}", cap.latency);
        match cap.mac_ports {
            0 => println!("packet path     none (look-aside: keys in, results out)"),
            n => {
                let by = |hw: bool| if hw { "in hardware" } else { "by the host" };
                println!(
                    "packet path     {n} MAC ports, VLAN edits {}, Ethernet rewrites {}",
                    by(cap.action_vlan),
                    by(cap.action_eth)
                )
            }
        }
        println!(
            "encodings       flow id {} bits, index {} bits, counters {} bits",
            cap.flow_id_bits, cap.index_bits, cap.counter_bits
        );
        println!(
            "EMC             {} entries, {} ways",
            g.emc_entries(),
            cap.emc_ways
        );
        println!(
            "megaflows       {} mask slots x {} buckets x {} = {} entries per slot",
            g.mf_slots,
            g.mf_buckets(),
            g.mf_bucket_slots,
            g.mf_entries_per_slot()
        );
        println!("miss queue      {} entries", 1u32 << g.missq_log2_depth);
        println!("register blocks type        version  base    size");
        for b in &blocks.list {
            println!(
                "                {:<11} {}.{:<6} {:#06x}  {:#x}",
                block_name(b),
                b.major,
                b.minor,
                b.base,
                b.size
            );
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn probe(device: &str, _bar: u8, _json: bool) -> Result<()> {
    anyhow::bail!("{device}: VFIO devices can only be opened on Linux")
}
