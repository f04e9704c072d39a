//! Traffic generator for `scripts/bench-switch`: sends 64-byte UDP frames
//! (60 bytes plus the FCS) of FLOWS distinct 5-tuples out of an interface as
//! fast as the port takes them, for SECONDS, through the switch's own port
//! code (AF_XDP or AF_PACKET), in bursts of 32.
//!
//! ```text
//! switch_gen IFACE af_xdp|af_packet FLOWS SECONDS
//! ```
//!
//! Frames go to a unicast MAC nobody has, so the receiving host's kernel
//! drops them cheaply; flow i has source address 10.x.y.z = i and UDP
//! source port 1024 + i % 60000.

use anyhow::{bail, Context, Result};
use fastpath::switch::port::{self, PortKind, TxQueue};
use fastpath::BURST;
use std::time::{Duration, Instant};

fn frame(i: u32) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
    ip[16..20].copy_from_slice(&[10, 200, 0, 1]);
    let mut s: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    ip[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&(1024 + (i % 60_000) as u16).to_be_bytes());
    udp[2..4].copy_from_slice(&5000u16.to_be_bytes());
    udp[4..6].copy_from_slice(&26u16.to_be_bytes());
    f
}

fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 4 {
        bail!("usage: switch_gen IFACE af_xdp|af_packet FLOWS SECONDS");
    }
    let iface = a[0].clone();
    let kind = match a[1].as_str() {
        "af_xdp" => PortKind::AfXdp { iface },
        "af_packet" => PortKind::AfPacket { iface },
        k => bail!("port type `{k}`: expected af_xdp or af_packet"),
    };
    let flows: u32 = a[2].parse().context("FLOWS")?;
    if flows == 0 || flows > 1 << 24 {
        bail!("FLOWS {flows}: 1 to 16777216");
    }
    let secs: f64 = a[3].parse().context("SECONDS")?;
    let frames: Vec<[u8; 60]> = (0..flows).map(frame).collect();
    let mut p = port::open(&kind).with_context(|| format!("opening {kind}"))?;
    let mut q = TxQueue::new();
    let t0 = Instant::now();
    let end = Duration::from_secs_f64(secs);
    let mut next = 0usize;
    while t0.elapsed() < end {
        for _ in 0..64 {
            for _ in 0..BURST {
                q.push(&frames[next]);
                next += 1;
                if next == frames.len() {
                    next = 0;
                }
            }
            p.send(&mut q);
        }
    }
    p.close()?;
    let el = t0.elapsed().as_secs_f64();
    let st = p.stats();
    println!(
        "switch_gen: {} frames sent in {el:.2} s ({:.3} Mpps), {} dropped, {} errors, {flows} flows",
        st.tx_packets,
        st.tx_packets as f64 / el / 1e6,
        st.tx_dropped,
        st.tx_errors
    );
    Ok(())
}
