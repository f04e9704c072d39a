//! The `fastpath` command.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod nic;

/// fastpath: a hardware-offloaded Open vSwitch fast path.
#[derive(Parser)]
#[command(name = "fastpath", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Talk to a NIC: probe its capability block.
    #[command(subcommand)]
    Nic(nic::NicCmd),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Nic(c) => nic::run(c),
    }
}
