//! The generated sections of docs/abi.md must match the declarations; run
//! `cargo run -p abi --example abi-export -- docs` after changing a layout.

use std::path::Path;

#[test]
fn abi_md_matches_declarations() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/abi.md");
    let doc = std::fs::read_to_string(&path).expect("docs/abi.md is part of the repository");
    let mut want = abi::export::splice(&doc, "key", &abi::export::markdown_key_table())
        .expect("docs/abi.md has the key markers");
    want = abi::export::splice(&want, "vectors", &abi::export::markdown_test_vectors())
        .expect("docs/abi.md has the vectors markers");
    assert!(
        doc == want,
        "docs/abi.md is stale: run `cargo run -p abi --example abi-export -- docs`"
    );
}

#[test]
fn json_export_names_every_field_and_register() {
    let j = abi::export::json();
    for f in abi::key::KEY_FIELDS {
        assert!(
            j.contains(&format!("\"name\": \"{}\"", f.name)),
            "{}",
            f.name
        );
    }
    for (name, off) in abi::regs::REGISTERS {
        assert!(j.contains(&format!("\"{name}\": {}", off.addr())), "{name}");
    }
}

#[test]
fn abi_md_parser_section_matches_declarations() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/abi.md");
    let doc = std::fs::read_to_string(&path).expect("docs/abi.md is part of the repository");
    let want = abi::export::splice(&doc, "parser", &abi::parser::markdown())
        .expect("docs/abi.md has the parser markers");
    assert!(
        doc == want,
        "docs/abi.md is stale: run `cargo run -p abi --example abi-export -- docs`"
    );
    let j = abi::export::json();
    for r in abi::parser::MalformedReason::ALL {
        assert!(
            j.contains(&format!("\"{}\": {}", r.name(), *r as u8)),
            "{r:?}"
        );
    }
}
