//! What `--nic` names, parsed once for every command that takes it.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The NIC a datapath runs with: `none`, `sim`, `sim-lookup` or `vfio:BDF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicSpec {
    /// Software only.
    None,
    /// The simulated NIC with a packet path (Verilated `fastpath_nic`):
    /// frames on its MAC ports, the host sees only what it cannot finish.
    Sim,
    /// The simulated look-aside NIC (Verilated `fastpath_top`): the host
    /// parses every frame, the NIC looks its key up, the host runs the
    /// actions. Kept for comparison and for its tests.
    SimLookup,
    /// A board through VFIO, by PCI address in its canonical
    /// `DDDD:BB:DD.F` form.
    Vfio(String),
}

/// Why a `--nic` value was refused.
#[derive(Debug, Error)]
pub enum NicSpecError {
    /// Neither `sim`, `sim-lookup`, `none` nor `vfio:…`.
    #[error(
        "--nic `{input}`: expected sim, sim-lookup, none or vfio:BDF (e.g. vfio:0000:03:00.0)"
    )]
    Unknown {
        /// What was given.
        input: String,
    },
    /// `vfio:` followed by something that is not a PCI address.
    #[cfg(target_os = "linux")]
    #[error("--nic `{input}`: expected sim, sim-lookup, none or vfio:BDF (e.g. vfio:0000:03:00.0): {source}")]
    BadAddress {
        /// What was given.
        input: String,
        /// What is wrong with the address.
        source: driver::vfio::VfioError,
    },
}

impl fmt::Display for NicSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NicSpec::None => f.write_str("none"),
            NicSpec::Sim => f.write_str("sim"),
            NicSpec::SimLookup => f.write_str("sim-lookup"),
            NicSpec::Vfio(bdf) => write!(f, "vfio:{bdf}"),
        }
    }
}

impl FromStr for NicSpec {
    type Err = NicSpecError;

    fn from_str(s: &str) -> Result<Self, NicSpecError> {
        match s {
            "none" => Ok(NicSpec::None),
            "sim" => Ok(NicSpec::Sim),
            "sim-lookup" => Ok(NicSpec::SimLookup),
            _ => match s.strip_prefix("vfio:") {
                Some(bdf) if !bdf.is_empty() => vfio(s, bdf),
                _ => Err(NicSpecError::Unknown { input: s.into() }),
            },
        }
    }
}

#[cfg(target_os = "linux")]
fn vfio(input: &str, bdf: &str) -> Result<NicSpec, NicSpecError> {
    let addr: driver::vfio::PciAddress =
        bdf.parse().map_err(|source| NicSpecError::BadAddress {
            input: input.into(),
            source,
        })?;
    Ok(NicSpec::Vfio(addr.to_string()))
}

/// Without VFIO there is no address syntax to check: opening it fails later.
#[cfg(not(target_os = "linux"))]
fn vfio(_: &str, bdf: &str) -> Result<NicSpec, NicSpecError> {
    Ok(NicSpec::Vfio(bdf.into()))
}

impl NicSpec {
    /// Whether a NIC is used (anything but `none`).
    pub fn is_some(&self) -> bool {
        !matches!(self, NicSpec::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_names_bad_input() {
        assert_eq!("none".parse::<NicSpec>().unwrap(), NicSpec::None);
        assert_eq!("sim".parse::<NicSpec>().unwrap(), NicSpec::Sim);
        assert_eq!("sim-lookup".parse::<NicSpec>().unwrap(), NicSpec::SimLookup);
        assert_eq!(NicSpec::SimLookup.to_string(), "sim-lookup");
        for bad in ["", "bogus", "vfio:", "vfio", "SIM", "sim-"] {
            let e = bad.parse::<NicSpec>().unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
            assert!(
                e.contains("expected sim, sim-lookup, none or vfio:BDF"),
                "{e}"
            );
        }
        #[cfg(target_os = "linux")]
        {
            let n: NicSpec = "vfio:0000:7f:1f.7".parse().unwrap();
            assert_eq!(n.to_string(), "vfio:0000:7f:1f.7");
            // The short form gets its domain.
            let n: NicSpec = "vfio:03:00.0".parse().unwrap();
            assert_eq!(n, NicSpec::Vfio("0000:03:00.0".into()));
            for bad in [
                "vfio:0000:03:20.0",
                "vfio:0000:03:00.8",
                "vfio:xyz",
                "vfio:03:00",
            ] {
                let e = bad.parse::<NicSpec>().unwrap_err().to_string();
                assert!(e.contains(&format!("`{bad}`")), "{e}");
                assert!(e.contains("is not a PCI address"), "{e}");
            }
        }
    }
}
