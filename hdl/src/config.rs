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
//!
//! A board folder's `board.toml` ([`Board`]) holds the same fields in its
//! `[geometry]` table beside the part, clocks, ports and RAM of the board;
//! [`BuildConfig::load`] reads either form.

use crate::ram_budget::{Primitive, RamCapacity};
use abi::{Geometry, GeometryError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Longest configuration file read (a board file is a few hundred bytes).
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// A board's build configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// The file is longer than [`MAX_CONFIG_BYTES`].
    #[error("{path}: longer than {MAX_CONFIG_BYTES} bytes; not a configuration file")]
    TooLong {
        /// File.
        path: PathBuf,
    },
    /// A board file names a RAM primitive this crate does not know.
    #[error("{path}: unknown RAM primitive {name:?} in [resources] ram (known: RAMB36, URAM288, DP16KD, SB_RAM40_4K)")]
    UnknownPrimitive {
        /// File.
        path: PathBuf,
        /// The name given.
        name: String,
    },
    /// A board file field has a value outside its range.
    #[error("{path}: {field} = {value}: {why}")]
    BadField {
        /// File.
        path: PathBuf,
        /// Field, as `table.key`.
        field: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        why: &'static str,
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
    /// Parses `text` (`path` names it in errors): a geometry file, or a
    /// board file (one with a `[board]` table), whose geometry and pipeline
    /// clock are taken.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        if is_board_file(text) {
            return Ok(Board::parse(text, path)?.config);
        }
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_raw(raw, path)
    }

    fn from_raw(raw: Raw, path: &Path) -> Result<Self, ConfigError> {
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

    /// Reads and parses a file (at most [`MAX_CONFIG_BYTES`]).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read_bounded(path)?, path)
    }
}

/// Reads a configuration file, refusing one longer than [`MAX_CONFIG_BYTES`]
/// (a device node or a wrong path must not be read without end).
fn read_bounded(path: &Path) -> Result<String, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    let mut text = String::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLong {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

fn is_board_file(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "[board]")
}

/// The shell a board's pipeline sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    /// AMD OpenNIC shell, as a `box_250mhz` user plugin.
    Opennic,
    /// Corundum / taxi, at the MAC-side AXI-Stream hooks.
    Corundum,
    /// No shell: synthesis and timing only.
    None,
}

/// A board folder's `board.toml`: what the board is and what it builds.
#[derive(Clone, Debug)]
pub struct Board {
    /// Folder name (`alveo-u200`).
    pub name: String,
    /// Shell the pipeline is wrapped in.
    pub shell: Shell,
    /// FPGA part with package and speed grade, as the vendor tools take it.
    pub part: String,
    /// The yosys `synth_*` target (`xilinx -family xcup`, `ecp5`, `ice40`).
    pub synth: String,
    /// Control (AXI4-Lite) clock, kHz.
    pub control_khz: u32,
    /// MAC ports the shell gives the pipeline.
    pub mac_ports: u8,
    /// AXI-Stream data width at the pipeline, bits.
    pub data_width: u16,
    /// LUTs of the part.
    pub luts: u64,
    /// RAM primitives of the part.
    pub ram: RamCapacity,
    /// Share of each RAM kind the pipeline may take, percent (the shell and
    /// timing closure need the rest).
    pub ram_budget_percent: u8,
    /// The geometry and pipeline clock it builds.
    pub config: BuildConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    board: RawBoardId,
    clocks: RawClocks,
    ports: RawPorts,
    resources: RawResources,
    geometry: RawGeometry,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoardId {
    name: String,
    shell: Shell,
    part: String,
    synth: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClocks {
    pipeline_khz: u32,
    control_khz: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPorts {
    mac_ports: u8,
    data_width: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    luts: u64,
    ram: BTreeMap<String, u64>,
    ram_budget_percent: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGeometry {
    emc_log2_entries: u8,
    mf_slots: u8,
    mf_log2_buckets: u8,
    mf_bucket_slots: u8,
    missq_log2_depth: u8,
}

impl Board {
    /// Parses a `board.toml` (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawBoard = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let bad = |field, value: String, why| ConfigError::BadField {
            path: path.to_owned(),
            field,
            value,
            why,
        };
        let g = raw.geometry;
        let config = BuildConfig::from_raw(
            Raw {
                emc_log2_entries: g.emc_log2_entries,
                mf_slots: g.mf_slots,
                mf_log2_buckets: g.mf_log2_buckets,
                mf_bucket_slots: g.mf_bucket_slots,
                missq_log2_depth: g.missq_log2_depth,
                clock_khz: raw.clocks.pipeline_khz,
            },
            path,
        )?;
        let p = &raw.ports;
        if p.mac_ports == 0 || p.mac_ports as usize > abi::action::MAX_MAC_PORTS {
            return Err(bad(
                "ports.mac_ports",
                p.mac_ports.to_string(),
                "must be 1..=abi::action::MAX_MAC_PORTS (16)",
            ));
        }
        if !abi::parser::DATA_WIDTHS.contains(&(p.data_width as usize)) {
            return Err(bad(
                "ports.data_width",
                p.data_width.to_string(),
                "must be one of abi::parser::DATA_WIDTHS (64, 512)",
            ));
        }
        let r = &raw.resources;
        if r.ram_budget_percent == 0 || r.ram_budget_percent > 100 {
            return Err(bad(
                "resources.ram_budget_percent",
                r.ram_budget_percent.to_string(),
                "must be 1..=100",
            ));
        }
        let mut ram = RamCapacity::default();
        for (name, &count) in &r.ram {
            let p = Primitive::by_name(name).ok_or_else(|| ConfigError::UnknownPrimitive {
                path: path.to_owned(),
                name: name.clone(),
            })?;
            ram.kinds.push((p, count));
        }
        // Block RAM first: the default home of a memory.
        ram.kinds.sort_by_key(|(p, _)| p.name == "URAM288");
        Ok(Board {
            name: raw.board.name,
            shell: raw.board.shell,
            part: raw.board.part,
            synth: raw.board.synth,
            control_khz: raw.clocks.control_khz,
            mac_ports: p.mac_ports,
            data_width: p.data_width,
            luts: r.luts,
            ram,
            ram_budget_percent: r.ram_budget_percent,
            config,
        })
    }

    /// Reads and parses a `board.toml`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read_bounded(path)?, path)
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
        let mut boards = 0;
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let (g, b) = (dir.join("geometry.toml"), dir.join("board.toml"));
            // A folder with neither is shared sources (boards/opennic).
            if !g.exists() && !b.exists() {
                continue;
            }
            assert!(
                !(g.exists() && b.exists()),
                "{}: geometry.toml and board.toml both",
                dir.display()
            );
            if b.exists() {
                let board = Board::load(&b).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    board.name,
                    dir.file_name().unwrap().to_str().unwrap(),
                    "{}",
                    b.display()
                );
                assert_eq!(BuildConfig::load(&b).unwrap(), board.config);
                boards += 1;
            } else {
                BuildConfig::load(&g).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert!(boards >= 5, "{boards} board.toml files");
    }

    const BOARD: &str =
        "[board]\nname = \"b\"\nshell = \"opennic\"\npart = \"p\"\nsynth = \"ecp5\"\n\
        [clocks]\npipeline_khz = 250000\ncontrol_khz = 125000\n\
        [ports]\nmac_ports = 2\ndata_width = 512\n\
        [resources]\nluts = 10\nram = { RAMB36 = 100, URAM288 = 10 }\nram_budget_percent = 60\n\
        [geometry]\nemc_log2_entries = 12\nmf_slots = 8\nmf_log2_buckets = 9\n\
        mf_bucket_slots = 4\nmissq_log2_depth = 9\n";

    #[test]
    fn board_file_parses_and_refuses_bad_fields_by_name() {
        let p = Path::new("board.toml");
        let b = Board::parse(BOARD, p).unwrap();
        assert_eq!(b.config.geometry, Geometry::DEFAULT);
        assert_eq!(b.config.clock_khz, 250_000);
        assert_eq!(b.control_khz, 125_000);
        assert_eq!(b.shell, Shell::Opennic);
        let names: Vec<_> = b.ram.kinds.iter().map(|(p, n)| (p.name, *n)).collect();
        assert_eq!(names, vec![("RAMB36", 100), ("URAM288", 10)]);
        for (from, to, field) in [
            ("mac_ports = 2", "mac_ports = 17", "mac_ports"),
            ("data_width = 512", "data_width = 128", "data_width"),
            (
                "ram_budget_percent = 60",
                "ram_budget_percent = 0",
                "ram_budget_percent",
            ),
            ("URAM288", "M20K", "M20K"),
            ("shell = \"opennic\"", "shell = \"pynq\"", "pynq"),
            ("mf_slots = 8", "mf_slots = 0", "mf_slots"),
            ("luts = 10\n", "", "luts"),
            ("[geometry]", "bogus = 1\n[geometry]", "bogus"),
        ] {
            let e = BuildConfig::parse(&BOARD.replace(from, to), p).unwrap_err();
            assert!(e.to_string().contains(field), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn an_endless_file_is_refused_not_read() {
        // /dev/zero never ends: the read must stop at the bound.
        let e = BuildConfig::load(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(e, ConfigError::TooLong { .. }), "{e}");
        let e = BuildConfig::load(Path::new("/nonexistent/board.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/board.toml"), "{e}");
    }
}
