//! Clocks per frame and Verilated frames/s of the hardware parser, by frame
//! size, at 64 and 512 bits (back-to-back frames, never backpressured).
//!
//! Usage: `cargo run --release -p sim --example parser_rate [frames per size]`

use sim::parser::{ParserSim, ParserWidth, StreamOpts};
use std::time::Instant;

/// An Ethernet/IPv4/UDP frame of `len` bytes (len >= 42).
fn udp_frame(len: usize, i: u32) -> Vec<u8> {
    let mut f = vec![
        0x50, 0x54, 0, 0, 0, 9, 2, 0, 0x0a, 0x0b, 0x0c, 0x0d, 0x08, 0x00,
    ];
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&i.to_be_bytes());
    f.extend_from_slice(&[192, 168, 1, 1]);
    let udp_len = ip_len - 20;
    f.extend_from_slice(&[
        0x04,
        0x00,
        0x00,
        0x35,
        (udp_len >> 8) as u8,
        udp_len as u8,
        0,
        0,
    ]);
    f.resize(len, 0);
    f
}

fn main() {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 10_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("parser_rate: the argument is a positive number of frames per size");
            std::process::exit(2);
        }
    };
    println!("| width | frame bytes | clocks/frame | K frames/s (Verilated) | M clocks/s |");
    println!("|---|---|---|---|---|");
    for width in [ParserWidth::W64, ParserWidth::W512] {
        let mut sim = ParserSim::new(width);
        for len in [64usize, 128, 256, 512, 1024, 1518] {
            let frames: Vec<Vec<u8>> = (0..n).map(|i| udp_frame(len, i as u32)).collect();
            let input: Vec<(&[u8], u16)> = frames.iter().map(|f| (f.as_slice(), 1)).collect();
            let t = Instant::now();
            let (out, cycles) = match sim.run(&input, &StreamOpts::default()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("parser_rate: {e}");
                    std::process::exit(1);
                }
            };
            let dt = t.elapsed().as_secs_f64();
            // Steady state: from the first result to the last.
            let span = out[n - 1].cycle - out[0].cycle;
            println!(
                "| {} | {len} | {:.2} | {:.1} | {:.2} |",
                width.beat_bytes() * 8,
                span as f64 / (n - 1) as f64,
                n as f64 / dt / 1e3,
                cycles as f64 / dt / 1e6
            );
        }
    }
}
