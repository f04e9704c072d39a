//! The `fastpath` command.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod nic;
mod parse_flows;
mod run;
#[cfg(target_os = "linux")]
mod switch;
mod trace;

/// fastpath: a hardware-offloaded Open vSwitch fast path.
#[derive(Parser)]
#[command(
    name = "fastpath",
    version,
    about = "fastpath: a hardware-offloaded Open vSwitch fast path (simulated NIC, VFIO boards, software datapath)",
    long_about = None
)]
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
    /// Print the rules of a file as `ovs-ofctl parse-flows` does.
    ParseFlows(parse_flows::ParseFlowsArgs),
    /// Print one rule as `ovs-ofctl parse-flow` does.
    ParseFlow(parse_flows::ParseFlowArgs),
    /// Run packets (pcap, ClassBench trace or synthetic) through the datapath: the simulated
    /// NIC first by default (--nic sim), software for every miss; --nic none is software only.
    Run(Box<run::RunArgs>),
    /// Run a switch: ports (AF_PACKET, pcap), a control socket, the datapath in between.
    #[cfg(target_os = "linux")]
    Switch(switch::SwitchArgs),
    /// Send a command to a running switch's control socket.
    #[cfg(target_os = "linux")]
    Ctl(switch::CtlArgs),
    /// Write a synthetic ClassBench-like ACL in ovs-ofctl syntax.
    #[command(
        after_help = "Example:\n  fastpath gen-rules --count 200 --seed 1 > examples/acl-small.flows"
    )]
    GenRules {
        /// Number of rules (before the final catch-all), at most 1000000.
        #[arg(long, default_value_t = 200, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
        count: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Nic(c) => nic::run(c),
        Cmd::Trace(a) => trace::run(a),
        Cmd::Run(a) => run::run(*a),
        #[cfg(target_os = "linux")]
        Cmd::Switch(a) => switch::run(a),
        #[cfg(target_os = "linux")]
        Cmd::Ctl(a) => switch::ctl(a),
        Cmd::ParseFlows(a) => parse_flows::run_file(a),
        Cmd::ParseFlow(a) => parse_flows::run_one(a),
        Cmd::GenRules { count, seed } => {
            print!("{}", fastpath::io::gen::acl_rules(count, seed));
            Ok(())
        }
    }
}
