//! `fastpath ctl` calls shared by the switch tests.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_fastpath");

/// `fastpath ctl SOCKET ARGS`: stdout, or stderr on failure.
pub fn try_ctl(socket: &Path, args: &[&str]) -> Result<String, String> {
    let o = Command::new(BIN)
        .arg("ctl")
        .arg(socket)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// As [`try_ctl`], failing the test on an error.
pub fn ctl(socket: &Path, args: &[&str]) -> String {
    try_ctl(socket, args).unwrap_or_else(|e| panic!("ctl {args:?}: {e}"))
}

/// `fastpath ctl SOCKET --format json ARGS`, parsed.
pub fn ctl_json(socket: &Path, args: &[&str]) -> Value {
    let mut v = vec!["--format", "json"];
    v.extend_from_slice(args);
    serde_json::from_str(&ctl(socket, &v)).expect("JSON reply")
}
