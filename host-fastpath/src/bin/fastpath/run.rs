//! `fastpath run` (placeholder until the datapath lands).

use anyhow::Result;
use clap::Args;

/// Arguments of `fastpath run`.
#[derive(Args)]
pub struct RunArgs {}

/// Runs `fastpath run`.
pub fn run(_a: RunArgs) -> Result<()> {
    anyhow::bail!("not yet")
}
