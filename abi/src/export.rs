//! Renders the contract for readers and for other languages: Markdown tables
//! for `docs/abi.md` and `docs/registers.md`, and JSON for the Python
//! reference model of the cocotb benches. Both are generated from the same
//! declarations, and a test checks the committed docs, so they cannot drift.

use crate::bits::BitField;
use crate::geometry::Geometry;
use crate::hash::TEST_VECTORS;
use crate::key::{ALL_KEY_FIELDS, HW_KEY_WORDS, KEY_ALIASES, KEY_FIELDS};
use crate::regs::{Capability, ALL_LAYOUTS, KEY_ARRAY_REGISTERS, LAYOUT, REGISTERS};
use std::fmt::Write;

/// Layouts of the datapath's words, exported beside the register layouts
/// so the Python model reads action words, host metadata and the action
/// stage's descriptor from the same declarations.
pub const DATAPATH_LAYOUTS: &[(&str, &[BitField])] = &[
    ("ACTION_ENTRY", crate::action::ACTION_ENTRY),
    ("EDIT_ENTRY", crate::action::EDIT_ENTRY),
    ("HOST_RX_META", crate::hostq::HOST_RX_META),
    ("HOST_TX_META", crate::hostq::HOST_TX_META),
    ("ACTION_DESC", crate::action_stage::ACTION_DESC),
];

fn bit_range(f: &BitField) -> String {
    let lo = f.shift();
    let hi = lo + f.width as u32 - 1;
    format!("{hi}:{lo}")
}

/// The key-field table of `docs/abi.md`.
pub fn markdown_key_table() -> String {
    let mut s = String::from(
        "| field | word | bits | width | global offset | aliases | in the hardware key |\n|---|---|---|---|---|---|---|\n",
    );
    for f in &ALL_KEY_FIELDS {
        let alias: Vec<&str> = KEY_ALIASES
            .iter()
            .filter_map(|&(a, b)| {
                if a == f.name {
                    Some(b)
                } else if b == f.name {
                    Some(a)
                } else {
                    None
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            f.name,
            f.word(),
            bit_range(f),
            f.width,
            f.offset,
            if alias.is_empty() {
                String::new()
            } else {
                alias.join(", ")
            },
            if f.word() < HW_KEY_WORDS {
                "yes"
            } else {
                "no (host only)"
            }
        );
    }
    s
}

/// The hash test-vector table of `docs/abi.md`.
pub fn markdown_test_vectors() -> String {
    let mut s = String::new();
    for (i, (k, m, h)) in TEST_VECTORS.iter().enumerate() {
        let _ = writeln!(s, "vector {i}: hash = 0x{h:08x}");
        let _ = writeln!(s, "  key  = {}", words_hex(k));
        let _ = writeln!(s, "  mask = {}", words_hex(m));
    }
    s
}

fn words_hex(w: &[u64; HW_KEY_WORDS]) -> String {
    w.iter()
        .map(|x| format!("{x:016x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The register table and one field table per register layout.
pub fn markdown_registers() -> String {
    let mut s = String::from(
        "Blocks (declared layout; a driver finds them by walking the chain):\n\n\
         | block | type | version | base | size |\n|---|---|---|---|---|\n",
    );
    for d in LAYOUT {
        let _ = writeln!(
            s,
            "| {} | 0x{:04x} | {}.{} | 0x{:03x} | 0x{:x} |",
            d.ty.name(),
            d.ty as u16,
            d.major,
            d.minor,
            d.base,
            d.size
        );
    }
    s.push_str(
        "\nRegisters (offset relative to the block; every block has its header at 0x00):\n\n\
         | block | offset | register | words | window offset |\n|---|---|---|---|---|\n",
    );
    for (name, r) in REGISTERS {
        let n = if KEY_ARRAY_REGISTERS.contains(name) {
            HW_KEY_WORDS
        } else {
            1
        };
        let _ = writeln!(
            s,
            "| {} | 0x{:02x} | `{name}` | {n} | 0x{:03x} |",
            r.block.name(),
            r.off,
            r.addr()
        );
    }
    for (name, fields) in ALL_LAYOUTS {
        let _ = writeln!(s, "\n{name}:\n\n| field | bits | width |\n|---|---|---|");
        for f in *fields {
            let _ = writeln!(s, "| `{}` | {} | {} |", f.name, bit_range(f), f.width);
        }
    }
    s
}

fn json_fields(out: &mut String, fields: &[BitField]) {
    out.push('[');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(
            out,
            "{{\"name\": \"{}\", \"offset\": {}, \"width\": {}}}",
            f.name, f.offset, f.width
        );
    }
    out.push(']');
}

/// The whole contract as JSON (key fields, layouts, registers, default
/// geometry and capability values, hash test vectors).
pub fn json() -> String {
    let mut s = String::from("{\n");
    let _ = writeln!(
        s,
        "  \"abi_major\": {}, \"abi_minor\": {}, \"key_words\": {}, \"hash_id\": {},",
        crate::ABI_MAJOR,
        crate::ABI_MINOR,
        HW_KEY_WORDS,
        crate::HASH_ID_CRC32C
    );
    // Opcodes and hit kinds, enumerated from their decoders.
    let ops: Vec<String> = (0..=u8::MAX)
        .filter_map(|v| crate::regs::Op::from_u8(v).map(|op| format!("\"{op:?}\": {v}")))
        .collect();
    let kinds: Vec<String> = (0..4u64)
        .filter_map(|v| {
            crate::regs::LookupResult::decode(v)
                .ok()
                .map(|r| format!("\"{:?}\": {v}", r.kind))
        })
        .collect();
    let _ = writeln!(
        s,
        "  \"ops\": {{{}}}, \"hit_kinds\": {{{}}}, \"emc_ways\": {},",
        ops.join(", "),
        kinds.join(", "),
        crate::geometry::EMC_WAYS
    );
    let _ = writeln!(
        s,
        "  \"stats_bytes_bits\": {}, \"stats_len_bits\": {},",
        crate::regs::STATS_BYTES_BITS,
        crate::regs::STATS_LEN_BITS
    );
    let _ = writeln!(
        s,
        "  \"edit_entries\": {}, \"edit_words\": {},",
        crate::action::EDIT_ENTRIES,
        crate::action::EDIT_WORDS
    );
    let _ = writeln!(s, "  \"parser\": {},", crate::parser::json());
    let _ = writeln!(
        s,
        "  \"action_kinds\": {{{}}},",
        [
            crate::action::ActionKind::Drop,
            crate::action::ActionKind::Output,
            crate::action::ActionKind::ToHost
        ]
        .iter()
        .map(|k| format!("\"{k:?}\": {}", *k as u8))
        .collect::<Vec<_>>()
        .join(", ")
    );
    let _ = writeln!(
        s,
        "  \"host_queues\": {{\"mac_port_base\": {}, \"qdma_c2h_header_bytes\": {}, \"qdma_h2c_header_bytes\": {}, \"reasons\": {{{}}}, \"tx_kinds\": {{\"Output\": {}, \"Inject\": {}}}}},",
        crate::action::MAC_PORT_BASE,
        crate::hostq::QDMA_C2H_HEADER_BYTES,
        crate::hostq::QDMA_H2C_HEADER_BYTES,
        crate::hostq::HostRxReason::ALL
            .iter()
            .map(|r| format!("\"{r:?}\": {}", *r as u8))
            .collect::<Vec<_>>()
            .join(", "),
        crate::hostq::HostTxKind::Output as u8,
        crate::hostq::HostTxKind::Inject as u8
    );
    // Key values the parser writes (a present VLAN tag, fragment bits).
    let _ = writeln!(
        s,
        "  \"key_values\": {{\"vlan_present\": {}, \"frag_any\": {}, \"frag_later\": {}}},",
        crate::key::VLAN_PRESENT,
        crate::key::FRAG_ANY,
        crate::key::FRAG_LATER
    );
    s.push_str("  \"key_fields\": ");
    json_fields(&mut s, KEY_FIELDS);
    s.push_str(",\n  \"layouts\": {");
    for (i, (name, fields)) in ALL_LAYOUTS.iter().chain(DATAPATH_LAYOUTS).enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\n    \"{name}\": ");
        json_fields(&mut s, fields);
    }
    s.push_str("\n  },\n  \"registers\": {");
    for (i, (name, r)) in REGISTERS.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\n    \"{name}\": {}", r.addr());
    }
    s.push_str("\n  },\n  \"blocks\": {");
    for (i, d) in LAYOUT.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "\n    \"{}\": {{\"type\": {}, \"major\": {}, \"minor\": {}, \"base\": {}, \"size\": {}}}",
            d.ty.name(),
            d.ty as u16,
            d.major,
            d.minor,
            d.base,
            d.size
        );
    }
    let g = Geometry::DEFAULT;
    let _ = write!(
        s,
        "\n  }},\n  \"default_geometry\": {{\"emc_log2_entries\": {}, \"mf_slots\": {}, \
         \"mf_log2_buckets\": {}, \"mf_bucket_slots\": {}, \"missq_log2_depth\": {}}},\n",
        g.emc_log2_entries, g.mf_slots, g.mf_log2_buckets, g.mf_bucket_slots, g.missq_log2_depth
    );
    s.push_str("  \"default_capability_registers\": {");
    for (i, (off, v)) in Capability::new(g, 0, 0).constant_words().iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{off}\": \"0x{v:016x}\"");
    }
    s.push_str("},\n  \"hash_test_vectors\": [");
    for (i, (k, m, h)) in TEST_VECTORS.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let hex = |w: &[u64; HW_KEY_WORDS]| {
            w.iter()
                .map(|x| format!("\"0x{x:016x}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = write!(
            s,
            "\n    {{\"key\": [{}], \"mask\": [{}], \"hash\": \"0x{h:08x}\"}}",
            hex(k),
            hex(m)
        );
    }
    s.push_str("\n  ]\n}\n");
    s
}

/// Replaces the text between `<!-- BEGIN GENERATED: name -->` and
/// `<!-- END GENERATED: name -->` in `doc`; `None` if the markers are missing.
pub fn splice(doc: &str, name: &str, body: &str) -> Option<String> {
    let begin = format!("<!-- BEGIN GENERATED: {name} -->\n");
    let end = format!("<!-- END GENERATED: {name} -->");
    let b = doc.find(&begin)? + begin.len();
    let e = b + doc[b..].find(&end)?;
    Some(format!("{}{}{}", &doc[..b], body, &doc[e..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regs::{HitKind, Op};

    #[test]
    fn json_lists_opcodes_and_hit_kinds() {
        let j = json();
        for v in 0..=u8::MAX {
            if let Some(op) = Op::from_u8(v) {
                assert!(j.contains(&format!("\"{op:?}\": {v}")), "{op:?}");
            }
        }
        for k in [HitKind::Miss, HitKind::Emc, HitKind::Megaflow] {
            assert!(j.contains(&format!("\"{k:?}\": {}", k as u8)), "{k:?}");
        }
    }

    #[test]
    fn json_lists_every_datapath_layout_field() {
        let j = json();
        let mut names = std::collections::HashSet::new();
        for (name, fields) in ALL_LAYOUTS.iter().chain(DATAPATH_LAYOUTS) {
            assert!(j.contains(&format!("\"{name}\": [")), "{name}");
            for f in *fields {
                let entry = format!(
                    "{{\"name\": \"{}\", \"offset\": {}, \"width\": {}}}",
                    f.name, f.offset, f.width
                );
                assert!(j.contains(&entry), "{}", f.name);
                // The Python model looks fields up by name across layouts.
                assert!(names.insert(f.name), "{} is declared twice", f.name);
            }
        }
    }
}
