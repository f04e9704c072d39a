//! `fastpath trace`: translate one flow as `ovs-appctl ofproto/trace` does.

use anyhow::{Context, Result};
use clap::Args;
use fastpath::odp::format_actions;
use fastpath::ofproto::format::{format_flow, format_match};
use fastpath::ofproto::parse::parse_trace_flow;
use fastpath::ofproto::{OfProto, Prefixes};
use std::path::PathBuf;

/// Arguments of `fastpath trace`.
#[derive(Args)]
#[command(after_help = "Examples:
  fastpath trace --rules examples/acl-small.flows \\
      in_port=1,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.15,tp_src=1234,tp_dst=79
  fastpath trace --rules my.flows --prefixes nw_dst \\
      in_port=1,dl_src=50:54:00:00:00:09,dl_dst=50:54:00:00:00:0a,dl_type=0x0800,nw_src=10.0.0.2,nw_dst=10.0.0.1,nw_proto=1,nw_ttl=64,icmp_type=8,icmp_code=0

Prints the rule matched in each table visited, then Open vSwitch's two lines:
  Megaflow: the datapath flow that would be installed (ovs-ofctl match syntax)
  Datapath actions: what the datapath does with packets of that megaflow")]
pub struct TraceArgs {
    /// Rule file in `ovs-ofctl add-flows` syntax.
    #[arg(long)]
    rules: PathBuf,
    /// Address prefix tracking: up to 4 of nw_dst,nw_src,ipv6_dst,ipv6_src, or `none`.
    #[arg(long, default_value = "nw_dst,nw_src,ipv6_dst,ipv6_src")]
    prefixes: String,
    /// Exact-match megaflows (as `ovs-appctl upcall/disable-megaflows`).
    #[arg(long)]
    no_megaflows: bool,
    /// The flow, in match syntax, as `ofproto/trace` takes it: exact values,
    /// each field after its protocol (`tcp,tp_dst=80`); unlisted fields are 0,
    /// a missing in_port is ANY.
    flow: String,
}

/// Runs `fastpath trace`.
pub fn run(a: TraceArgs) -> Result<()> {
    let prefixes: Prefixes = a.prefixes.parse()?;
    let mut of = OfProto::load(&a.rules, prefixes)?;
    of.megaflows = !a.no_megaflows;
    let flow = parse_trace_flow(&a.flow).context("cannot parse FLOW")?;
    let key = flow.key();
    let t = of.translate_flow(&flow, true);
    println!("Flow: {}", format_flow(&flow));
    println!();
    println!("bridge(\"br0\")");
    println!("-------------");
    for l in &t.trace {
        println!(" {l}");
    }
    println!();
    if t.final_flow == flow {
        println!("Final flow: unchanged");
    } else {
        println!("Final flow: {}", format_flow(&t.final_flow));
    }
    println!("Megaflow: {}", format_match(&key, &t.mask, true));
    println!("Datapath actions: {}", format_actions(&t.actions));
    if let Some(e) = &t.error {
        println!("Translation failed ({e}): the megaflow drops.");
    }
    Ok(())
}
