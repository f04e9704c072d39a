//! `fastpath trace`: translate one flow as `ovs-appctl ofproto/trace` does.

use anyhow::Result;
use clap::Args;
use fastpath::io::text::shorten_words;
use fastpath::ofproto::format::trace_report;
use fastpath::ofproto::parse::parse_trace_flow;
use fastpath::ofproto::{FragMode, OfProto, Prefixes};
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
    /// Group table, in `ovs-ofctl add-groups` syntax (rules' `group:N`).
    #[arg(long)]
    groups: Option<PathBuf>,
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
    /// The bridge's OpenFlow ports, comma-separated (LOCAL for its local
    /// port): FLOOD, ALL and NORMAL reach them, other outputs nothing. By
    /// default every port number exists and floods reach no port.
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::ValueParser::new(parse_port))]
    ports: Option<Vec<u32>>,
    /// The flow, in match syntax, as `ofproto/trace` takes it: exact values,
    /// each field after its protocol (`tcp,tp_dst=80`); unlisted fields are 0,
    /// a missing in_port is ANY.
    flow: String,
}

/// Runs `fastpath trace`. The error is one line ([`crate::run::one_line`]).
pub fn run(a: TraceArgs) -> Result<()> {
    run_checked(a).map_err(crate::run::one_line)
}

fn run_checked(a: TraceArgs) -> Result<()> {
    let prefixes: Prefixes = a.prefixes.parse()?;
    // The flow first: a typo in it is found without reading the rules.
    let flow = parse_trace_flow(&a.flow)
        .map_err(|e| anyhow::anyhow!("FLOW {}", shorten_words(&e.to_string())))?;
    let mut of = OfProto::load(&a.rules, prefixes)?;
    of.load_groups(a.groups.as_deref())?;
    of.megaflows = !a.no_megaflows;
    of.frags = a.frags;
    if let Some(p) = a.ports {
        of.set_ports(p);
    }
    print!("{}", trace_report(&of, &flow));
    Ok(())
}

fn parse_port(s: &str) -> Result<u32, String> {
    fastpath::ofproto::parse::parse_action_port(s)
}
