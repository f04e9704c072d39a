//! `fastpath trace`: translate one flow as `ovs-appctl ofproto/trace` does.

use anyhow::{Context, Result};
use clap::Args;
use fastpath::odp::format_actions;
use fastpath::ofproto::format::format_match;
use fastpath::ofproto::xlate::exact_mask;
use fastpath::ofproto::{parse_flow, FragMode, OfProto, Prefixes};
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
    /// IP fragment handling, as `ovs-ofctl set-frags`: normal (L4 ports of
    /// fragments read as 0), nx-match or drop.
    #[arg(long, default_value = "normal", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<FragMode>()))]
    frags: FragMode,
    /// The flow, in match syntax (unlisted fields are 0; registers and
    /// metadata may be set, as in `ofproto/trace`).
    flow: String,
}

/// Runs `fastpath trace`.
pub fn run(a: TraceArgs) -> Result<()> {
    let prefixes: Prefixes = a.prefixes.parse()?;
    let mut of = OfProto::load(&a.rules, prefixes)?;
    of.megaflows = !a.no_megaflows;
    of.frags = a.frags;
    let flow = parse_flow(&a.flow).context("cannot parse FLOW")?;
    let key = flow.key();
    let t = of.translate_flow(&flow, true);
    println!("Flow: {}", format_match(&key, &exact_mask(&flow), false));
    println!();
    println!("bridge(\"br0\")");
    println!("-------------");
    for l in &t.trace {
        println!(" {l}");
    }
    println!();
    let fin = t.final_flow.key();
    if fin == key {
        println!("Final flow: unchanged");
    } else {
        println!(
            "Final flow: {}",
            format_match(&fin, &exact_mask(&t.final_flow), false)
        );
    }
    println!("Megaflow: {}", format_match(&key, &t.mask, true));
    println!("Datapath actions: {}", format_actions(&t.actions));
    if let Some(e) = &t.error {
        println!("Translation failed ({e}): the megaflow drops.");
    }
    Ok(())
}
