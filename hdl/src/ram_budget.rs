//! Block-RAM arithmetic of a build: which memories the emitted Verilog
//! declares and how many RAM primitives of a device family they take.
//!
//! The inventory is read from the emitted text itself (every [`crate::bram::Bram`]
//! is its own module with one `reg [W-1:0] mem [0:D-1]`), so it cannot drift
//! from the RTL. The mapping is the arithmetic a synthesis tool does for a
//! simple dual-port RAM (one write port, one read port): the cheapest aspect
//! ratio of the primitive, `ceil(depth / d) × ceil(width / w)`. Memories of
//! at most [`LUTRAM_MAX_BITS`] go to distributed RAM, as Vivado and yosys put
//! them. It is an estimate to size geometries by; a yosys run gives the
//! figure a board is judged by (`docs/PERFORMANCE.md`).

use std::fmt::Write;

/// One memory of the design.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    /// Verilog module that holds it (its hierarchy path).
    pub module: String,
    /// Words.
    pub depth: u64,
    /// Bits per word.
    pub width: u64,
}

impl Memory {
    /// Bits held.
    pub fn bits(&self) -> u64 {
        self.depth * self.width
    }
}

/// Memories of at most this many bits are mapped to LUTs, not RAM blocks.
pub const LUTRAM_MAX_BITS: u64 = 4096;

/// The memories declared in emitted Verilog, in file order.
pub fn memories(verilog: &str) -> Vec<Memory> {
    let mut out = Vec::new();
    let mut module = "";
    for line in verilog.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("module ") {
            module = rest.split(['(', ' ', '#']).next().unwrap_or("");
        } else if let Some(m) = parse_mem(l) {
            out.push(Memory {
                module: module.to_string(),
                depth: m.0,
                width: m.1,
            });
        }
    }
    out
}

/// `reg [msb:0] mem [0:last];` → `(depth, width)`.
fn parse_mem(l: &str) -> Option<(u64, u64)> {
    let rest = l.strip_prefix("reg [")?;
    let (msb, rest) = rest.split_once(":0] mem [0:")?;
    let last = rest.strip_suffix("];")?;
    let msb: u64 = msb.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    Some((last + 1, msb + 1))
}

/// A RAM primitive: its name and the `(depth, width)` shapes it can take as
/// a simple dual-port RAM.
#[derive(Clone, Copy, Debug)]
pub struct Primitive {
    /// Name as the vendor calls it.
    pub name: &'static str,
    /// Shapes.
    pub shapes: &'static [(u64, u64)],
}

/// Xilinx 7-series / UltraScale(+) RAMB36 (SDP up to 72 bits wide).
pub const RAMB36: Primitive = Primitive {
    name: "RAMB36",
    shapes: &[
        (512, 72),
        (1024, 36),
        (2048, 18),
        (4096, 9),
        (8192, 4),
        (16384, 2),
        (32768, 1),
    ],
};
/// UltraScale+ URAM288: 4 K × 72, no other shape.
pub const URAM288: Primitive = Primitive {
    name: "URAM288",
    shapes: &[(4096, 72)],
};
/// Lattice ECP5 DP16KD (pseudo dual-port up to 36 bits wide).
pub const DP16KD: Primitive = Primitive {
    name: "DP16KD",
    shapes: &[
        (512, 36),
        (1024, 18),
        (2048, 9),
        (4096, 4),
        (8192, 2),
        (16384, 1),
    ],
};
/// Lattice iCE40 SB_RAM40_4K.
pub const SB_RAM40_4K: Primitive = Primitive {
    name: "SB_RAM40_4K",
    shapes: &[(256, 16), (512, 8), (1024, 4), (2048, 2)],
};

impl Primitive {
    /// Primitives one memory takes (0 for a LUT RAM).
    pub fn count(&self, m: &Memory) -> u64 {
        if m.bits() <= LUTRAM_MAX_BITS {
            return 0;
        }
        self.shapes
            .iter()
            .map(|&(d, w)| m.depth.div_ceil(d) * m.width.div_ceil(w))
            .min()
            .unwrap_or(0)
    }

    /// By name, as board files give it.
    pub fn by_name(name: &str) -> Option<Primitive> {
        [RAMB36, URAM288, DP16KD, SB_RAM40_4K]
            .into_iter()
            .find(|p| p.name == name)
    }
}

/// A device's RAM: each primitive it has and how many.
#[derive(Clone, Debug, Default)]
pub struct RamCapacity {
    /// `(primitive, count)`; the first is the default home of a memory.
    pub kinds: Vec<(Primitive, u64)>,
}

/// Where each memory goes and what it all takes.
#[derive(Clone, Debug)]
pub struct RamBudget {
    /// `(memory, primitive index in the capacity or None for LUT RAM, count)`.
    pub placed: Vec<(Memory, Option<usize>, u64)>,
    /// Primitives used per kind, in capacity order.
    pub used: Vec<u64>,
    /// Capacity per kind.
    pub capacity: Vec<u64>,
    /// Names per kind.
    pub names: Vec<&'static str>,
}

impl RamBudget {
    /// Places `mems` on `cap`: the largest memories first, each in the kind
    /// where it takes the smallest share of that kind's capacity and still
    /// fits (URAM is cheaper per bit for deep, wide tables; block RAM for the
    /// rest). A memory that fits nowhere is placed in the first kind anyway,
    /// so the over-use shows.
    pub fn place(mems: &[Memory], cap: &RamCapacity) -> RamBudget {
        let n = cap.kinds.len();
        let mut used = vec![0u64; n];
        let mut order: Vec<usize> = (0..mems.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(mems[i].bits()));
        let mut placed: Vec<Option<(Option<usize>, u64)>> = vec![None; mems.len()];
        for i in order {
            let m = &mems[i];
            if m.bits() <= LUTRAM_MAX_BITS || n == 0 {
                placed[i] = Some((None, 0));
                continue;
            }
            let mut best: Option<(usize, u64, f64)> = None;
            for (k, (p, total)) in cap.kinds.iter().enumerate() {
                let c = p.count(m);
                if used[k] + c > *total {
                    continue;
                }
                let share = c as f64 / (*total).max(1) as f64;
                if best.is_none_or(|(_, _, s)| share < s) {
                    best = Some((k, c, share));
                }
            }
            let (k, c) = match best {
                Some((k, c, _)) => (k, c),
                None => (0, cap.kinds[0].0.count(m)),
            };
            used[k] += c;
            placed[i] = Some((Some(k), c));
        }
        RamBudget {
            placed: mems
                .iter()
                .zip(placed)
                .map(|(m, p)| {
                    let (k, c) = p.unwrap_or((None, 0));
                    (m.clone(), k, c)
                })
                .collect(),
            used,
            capacity: cap.kinds.iter().map(|(_, t)| *t).collect(),
            names: cap.kinds.iter().map(|(p, _)| p.name).collect(),
        }
    }

    /// Share of kind `k` in use, in percent.
    pub fn percent(&self, k: usize) -> f64 {
        100.0 * self.used[k] as f64 / self.capacity[k].max(1) as f64
    }

    /// The arithmetic as a Markdown table: memories grouped by module
    /// prefix with their shape and primitives, then the totals.
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| memory | depth × width | bits | placed in | primitives |\n|---|---|---|---|---|\n",
        );
        for (m, k, c) in &self.placed {
            let home = k.map_or("LUT RAM", |k| self.names[k]);
            let _ = writeln!(
                s,
                "| `{}` | {} × {} | {} | {} | {} |",
                m.module,
                m.depth,
                m.width,
                m.bits(),
                home,
                c
            );
        }
        for k in 0..self.used.len() {
            let _ = writeln!(
                s,
                "| **total {}** | | | | **{} of {} ({:.1} %)** |",
                self.names[k],
                self.used[k],
                self.capacity[k],
                self.percent(k)
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(depth: u64, width: u64) -> Memory {
        Memory {
            module: "m".into(),
            depth,
            width,
        }
    }

    #[test]
    fn reads_the_bram_template() {
        let v = "module fastpath_top_emc_ram_a(clock);\nreg [536:0] mem [0:4095];\nendmodule\n\
                 module x(a);\n  reg [7:0] other;\nendmodule\nmodule y (b);\n    reg [63:0] mem [0:15];\n";
        let got = memories(v);
        assert_eq!(
            got,
            vec![
                Memory {
                    module: "fastpath_top_emc_ram_a".into(),
                    depth: 4096,
                    width: 537
                },
                Memory {
                    module: "y".into(),
                    depth: 16,
                    width: 64
                }
            ]
        );
    }

    #[test]
    fn primitive_counts_take_the_cheapest_shape() {
        // 4096 × 537: 512×72 gives 8 × 8 = 64, 1K×36 gives 4 × 15 = 60.
        assert_eq!(RAMB36.count(&m(4096, 537)), 60);
        // 512 × 537: 1 × 8 on 512×72.
        assert_eq!(RAMB36.count(&m(512, 537)), 8);
        assert_eq!(URAM288.count(&m(4096, 537)), 8);
        assert_eq!(URAM288.count(&m(8192, 72)), 2);
        assert_eq!(DP16KD.count(&m(512, 537)), 15);
        assert_eq!(SB_RAM40_4K.count(&m(256, 537)), 34);
        // Small memories are LUT RAM.
        assert_eq!(RAMB36.count(&m(16, 128)), 0);
    }

    #[test]
    fn placement_prefers_the_cheaper_share_and_shows_over_use() {
        let cap = RamCapacity {
            kinds: vec![(RAMB36, 100), (URAM288, 10)],
        };
        // 60 of 100 RAMB36 (60 %) vs 8 of 10 URAM (80 %): block RAM.
        let b = RamBudget::place(&[m(4096, 537)], &cap);
        assert_eq!(b.used, vec![60, 0]);
        // Deep and narrow: 16 RAMB36 (16 %) vs 2 URAM (20 %): block RAM, twice.
        let b = RamBudget::place(&[m(8192, 72), m(8192, 72)], &cap);
        assert_eq!(b.used, vec![32, 0]);
        // Too big for either: placed in the first kind, over capacity.
        let b = RamBudget::place(&[m(65536, 537)], &cap);
        assert!(b.used[0] > 100, "{:?}", b.used);
        assert!(b.percent(0) > 100.0);
        assert!(b.markdown().contains("total RAMB36"));
    }
}
