//! `fastpath parse-flows` / `parse-flow`: rules printed as `ovs-ofctl parse-flows` prints them.

use anyhow::{Context, Result};
use clap::Args;
use fastpath::ofproto::ofctl::{format_flow_mod, Dialect};
use fastpath::ofproto::parse::parse_rule;
use fastpath::ofproto::parse_rules;
use std::path::PathBuf;

const DIFF_HELP: &str =
    "Each rule prints as the flow_mod `ovs-ofctl parse-flows` prints after `ADD `,
in the OpenFlow dialect it would choose for the whole input, so the two diff:
  diff <(ovs-ofctl parse-flows FILE | sed -n 's/^.*FLOW_MOD.*: ADD //p') \\
       <(fastpath parse-flows FILE)";

/// Arguments of `fastpath parse-flows`.
#[derive(Args)]
#[command(after_help = format!("Example:\n  fastpath parse-flows examples/acl-small.flows\n\n{DIFF_HELP}"))]
pub struct ParseFlowsArgs {
    /// Rule file in `ovs-ofctl add-flows` syntax.
    file: PathBuf,
}

/// Arguments of `fastpath parse-flow`.
#[derive(Args)]
#[command(after_help = format!(
    "Example:\n  fastpath parse-flow 'table=1,priority=5,tcp,tp_dst=80,action=output:2'\n\n{DIFF_HELP}"
))]
pub struct ParseFlowArgs {
    /// One rule in `ovs-ofctl add-flow` syntax.
    rule: String,
}

/// Runs `fastpath parse-flows`.
pub fn run_file(a: ParseFlowsArgs) -> Result<()> {
    let name = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read rules file {name}"))?;
    let rules = parse_rules(&text, &name)?;
    let d = Dialect::for_rules(&rules);
    for r in &rules {
        println!("{}", format_flow_mod(r, d));
    }
    Ok(())
}

/// Runs `fastpath parse-flow`.
pub fn run_one(a: ParseFlowArgs) -> Result<()> {
    let r = parse_rule(&a.rule)?;
    println!("{}", format_flow_mod(&r, Dialect::for_rules([&r])));
    Ok(())
}
