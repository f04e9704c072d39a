//! Prints the contract: `json` (for the Python reference model) or `docs`
//! (rewrites the generated sections of docs/abi.md and docs/registers.md).
//!
//! Usage: `cargo run -p abi --example abi-export -- json > build/abi.json`
//!        `cargo run -p abi --example abi-export -- docs`

use std::path::Path;

fn splice_file(path: &Path, sections: &[(&str, String)]) -> Result<(), String> {
    let mut doc = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for (name, body) in sections {
        doc = abi::export::splice(&doc, name, body)
            .ok_or_else(|| format!("{}: no GENERATED markers for {name}", path.display()))?;
    }
    std::fs::write(path, doc).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let result = match arg.as_str() {
        "json" => {
            print!("{}", abi::export::json());
            Ok(())
        }
        "docs" => splice_file(
            &root.join("docs/abi.md"),
            &[
                ("key", abi::export::markdown_key_table()),
                ("vectors", abi::export::markdown_test_vectors()),
                ("parser", abi::parser::markdown()),
            ],
        ),
        _ => Err("usage: abi-export json|docs".to_string()),
    };
    if let Err(e) = result {
        eprintln!("abi-export: {e}");
        std::process::exit(2);
    }
}
