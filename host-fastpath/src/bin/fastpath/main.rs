//! The `fastpath` command.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod nic;
mod run;
mod trace;

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
    /// Translate one flow through a rule table and print its megaflow and datapath actions.
    Trace(trace::TraceArgs),
    /// Run packets (pcap, ClassBench trace or synthetic) through the software datapath.
    Run(run::RunArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Nic(c) => nic::run(c),
        Cmd::Trace(a) => trace::run(a),
        Cmd::Run(a) => run::run(a),
    }
}
