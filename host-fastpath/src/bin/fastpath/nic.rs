//! `fastpath nic …` subcommands.

use anyhow::Result;
use clap::Subcommand;

/// NIC subcommands.
#[derive(Subcommand)]
pub enum NicCmd {}

/// Runs a NIC subcommand.
pub fn run(cmd: NicCmd) -> Result<()> {
    match cmd {}
}
