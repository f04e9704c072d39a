//! Build configuration: table geometry plus clock, from a TOML file.
//!
//! ```toml
//! emc_log2_entries = 12
//! mf_slots = 8
//! mf_log2_buckets = 9
//! mf_bucket_slots = 4
//! missq_log2_depth = 9
//! clock_khz = 250000
//! ```
//! Field names are those of [`abi::Geometry`]; every field is required, so a
//! board file says exactly what it builds.

use abi::{Geometry, GeometryError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A board's build configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildConfig {
    /// Table geometry.
    pub geometry: Geometry,
    /// Pipeline clock announced in `CAP_CLOCK` (0: unknown).
    pub clock_khz: u32,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            geometry: Geometry::DEFAULT,
            clock_khz: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    emc_log2_entries: u8,
    mf_slots: u8,
    mf_log2_buckets: u8,
    mf_bucket_slots: u8,
    missq_log2_depth: u8,
    clock_khz: u32,
}

/// Why a configuration file is refused.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid TOML or a field is missing, unknown or mistyped.
    #[error("{path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Parser message (names the field).
        message: String,
    },
    /// A geometry field is outside what the ABI supports.
    #[error("{path}: {source}")]
    Geometry {
        /// File.
        path: PathBuf,
        /// Which field and range.
        source: GeometryError,
    },
    /// The statistics address space does not fit the index width.
    #[error("{path}: {entries} table entries exceed the {bits}-bit statistics address")]
    TooLarge {
        /// File.
        path: PathBuf,
        /// Entries requested.
        entries: u64,
        /// Address width.
        bits: usize,
    },
}

impl BuildConfig {
    /// Parses `text` (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let geometry = Geometry {
            emc_log2_entries: raw.emc_log2_entries,
            mf_slots: raw.mf_slots,
            mf_log2_buckets: raw.mf_log2_buckets,
            mf_bucket_slots: raw.mf_bucket_slots,
            missq_log2_depth: raw.missq_log2_depth,
        };
        geometry
            .validate()
            .map_err(|source| ConfigError::Geometry {
                path: path.to_owned(),
                source,
            })?;
        let entries = geometry.emc_entries() as u64
            + geometry.mf_slots as u64 * geometry.mf_entries_per_slot() as u64;
        let bits = crate::bram::ADDR_BITS;
        if entries >= 1 << bits {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
                entries,
                bits,
            });
        }
        Ok(BuildConfig {
            geometry,
            clock_khz: raw.clock_khz,
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "emc_log2_entries = 12\nmf_slots = 8\nmf_log2_buckets = 9\n\
                        mf_bucket_slots = 4\nmissq_log2_depth = 9\nclock_khz = 250000\n";

    #[test]
    fn parses_and_rejects_with_the_field_named() {
        let p = Path::new("x.toml");
        let c = BuildConfig::parse(GOOD, p).unwrap();
        assert_eq!(c.geometry, Geometry::DEFAULT);
        assert_eq!(c.clock_khz, 250_000);
        let e = BuildConfig::parse(&GOOD.replace("mf_slots = 8", "mf_slots = 0"), p).unwrap_err();
        assert!(e.to_string().contains("mf_slots"), "{e}");
        let e = BuildConfig::parse(&GOOD.replace("clock_khz = 250000\n", ""), p).unwrap_err();
        assert!(e.to_string().contains("clock_khz"), "{e}");
        let e = BuildConfig::parse(&format!("{GOOD}bogus = 1\n"), p).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = BuildConfig::parse("emc_log2_entries = \"x\"", p).unwrap_err();
        assert!(e.to_string().starts_with("x.toml"), "{e}");
    }

    #[test]
    fn board_files_in_the_repo_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("boards");
        for f in [
            "default/geometry.toml",
            "ice40-hx8k/geometry.toml",
            "ecp5-85k/geometry.toml",
            "ultrascale-plus/geometry.toml",
        ] {
            BuildConfig::load(&root.join(f)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
