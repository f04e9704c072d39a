//! The fast model's Verilog: `fastpath_top` with every hash unit replaced by
//! a simulation stand-in that calls the DPI-C function `fastpath_sim_hash`
//! (csrc/hash_standin.cpp: CRC32-C per `abi::hash`, SSE4.2 when available).
//!
//! Why this is exact: the hash unit is the affine map `L(key & mask) ^ C`
//! over GF(2) (an XOR tree of AND terms with constant rows); CRC32-C of a
//! fixed-width input is affine too. Two affine maps agree on every input iff
//! they agree on the zero vector and the 512 unit vectors, which
//! `sim/tests/hash_standin.rs` checks against the Verilated
//! `fastpath_hash_unit`. Here we make sure that what is replaced *is* that
//! module: an instance is replaced only if its text (submodules included),
//! with its name mapped to `fastpath_hash_unit`, equals the emitted
//! `fastpath_hash_unit` character for character; and the number replaced
//! must be the number the design has (EMC + one per mask slot). The
//! stand-in keeps the ports, the two register stages and their power-on
//! values, so the surrounding pipeline sees the same values on the same
//! clocks.

/// Name of the stand-alone hash unit module in `hdl::emit::emit_all`.
pub const HASH_UNIT: &str = "fastpath_hash_unit";

/// The DPI-C function the stand-in calls.
pub const DPI_FN: &str = "fastpath_sim_hash";

/// One `module ... endmodule` span of a Verilog text.
struct Span {
    name: String,
    start: usize,
    end: usize,
}

/// The modules of a rust-hdl emitted file, in order.
fn modules(text: &str) -> Result<Vec<Span>, String> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize)> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("module ") {
            if let Some((n, _)) = &open {
                return Err(format!("module {n} has no endmodule"));
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                return Err(format!("cannot parse `{}`", line.trim_end()));
            }
            open = Some((name, pos));
        } else if t.starts_with("endmodule") {
            let (name, start) = open
                .take()
                .ok_or_else(|| format!("stray `{}`", line.trim_end()))?;
            out.push(Span {
                name,
                start,
                end: pos + line.len(),
            });
        }
        pos += line.len();
    }
    if let Some((n, _)) = open {
        return Err(format!("module {n} has no endmodule"));
    }
    Ok(out)
}

fn stand_in(name: &str, constant: u32) -> String {
    format!(
        "\
// Simulation stand-in for the hash unit {name} (sim/build-support/standin.rs):
// same ports, same two register stages and power-on values; the XOR matrix
// is replaced by {DPI_FN}, proven equal on all inputs by
// sim/tests/hash_standin.rs. Only the fast simulation model uses it.
module {name}(clock,key,mask,hash);
    input wire  clock;
    input wire  [511:0] key;
    input wire  [511:0] mask;
    output reg  [31:0] hash;
    // Stage 1 holds the full hash of the previous input. The RTL's stage 1
    // holds partials that start at 0, so its first output is the constant
    // C = hash(0): start here at C to match.
    reg [31:0] h1;
    initial begin
        h1 = 32'h{constant:08x};
        hash = 32'h0;
    end
    always @(posedge clock) begin
        h1 <= {DPI_FN}(key & mask);
        hash <= h1;
    end
endmodule // {name}
"
    )
}

/// `top` with every copy of `hash_unit` replaced by the stand-in; fails
/// unless exactly `expected` copies were found.
pub fn substitute(
    top: &str,
    hash_unit: &str,
    constant: u32,
    expected: usize,
) -> Result<String, String> {
    let hu = modules(hash_unit)?;
    let hu_text = |n: &str| {
        hu.iter()
            .find(|m| m.name == n)
            .map(|m| &hash_unit[m.start..m.end])
    };
    if hu_text(HASH_UNIT).is_none() {
        return Err(format!("the {HASH_UNIT} Verilog has no module {HASH_UNIT}"));
    }
    let subs: Vec<&str> = hu
        .iter()
        .filter_map(|m| m.name.strip_prefix(HASH_UNIT))
        .filter(|s| !s.is_empty())
        .collect();
    let mods = modules(top)?;
    // Instances: modules whose whole group is the hash unit under another name.
    let mut drop = vec![false; mods.len()];
    let mut replace: Vec<usize> = Vec::new();
    for (i, m) in mods.iter().enumerate() {
        let same = |n: &str, suffix: &str| -> bool {
            let own = format!("{n}{suffix}");
            let Some(span) = mods.iter().find(|x| x.name == own) else {
                return false;
            };
            let renamed = top[span.start..span.end].replace(n, HASH_UNIT);
            hu_text(&format!("{HASH_UNIT}{suffix}")) == Some(renamed.as_str())
        };
        if same(&m.name, "") && subs.iter().all(|s| same(&m.name, s)) {
            replace.push(i);
            for s in &subs {
                let own = format!("{}{s}", m.name);
                if let Some(j) = mods.iter().position(|x| x.name == own) {
                    drop[j] = true;
                }
            }
        }
    }
    if replace.len() != expected {
        let found: Vec<&str> = replace.iter().map(|&i| mods[i].name.as_str()).collect();
        return Err(format!(
            "expected {expected} copies of {HASH_UNIT} in fastpath_top, found {} ({found:?}): \
             the hash unit or its instantiation changed, so the fast model's stand-in would not \
             be proven equal to it",
            replace.len()
        ));
    }
    let mut out = String::with_capacity(top.len());
    out.push_str(&format!(
        "// fastpath_top for the fast simulation model: {} hash units replaced.\n\
         import \"DPI-C\" pure function int {DPI_FN}(input bit [511:0] x);\n\n",
        replace.len()
    ));
    let mut pos = 0;
    for (i, m) in mods.iter().enumerate() {
        out.push_str(&top[pos..m.start]);
        if replace.contains(&i) {
            out.push_str(&stand_in(&m.name, constant));
        } else if !drop[i] {
            out.push_str(&top[m.start..m.end]);
        }
        pos = m.end;
    }
    out.push_str(&top[pos..]);
    Ok(out)
}
