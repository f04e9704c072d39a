//! Fuzzes miniflow extract: any byte string must extract without panicking,
//! count at most one malformed reason, keep header offsets inside the frame,
//! and give the same key alone and in a batch (whose hash is the key hash).

#![no_main]

use abi::FlowKey;
use fastpath::extract::{extract_batch, miniflow_extract_with_offsets, ExtractStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = ExtractStats::default();
    let (key, off) = miniflow_extract_with_offsets(data, 5, &mut s);
    assert!(s.malformed() <= 1, "{s:?}");
    for o in [off.l3, off.l4, off.l3_end].into_iter().flatten() {
        assert!(o as usize <= data.len());
    }
    if let (Some(l4), Some(end)) = (off.l4, off.l3_end) {
        assert!(l4 <= end);
    }
    let mut keys = [FlowKey::ZERO; 1];
    let mut hashes = [0u32; 1];
    let mut s2 = ExtractStats::default();
    extract_batch(&[data], 5, &mut keys, &mut hashes, &mut s2);
    assert_eq!(keys[0], key);
    assert_eq!(hashes[0], abi::hash_key(&key));
    assert_eq!(s, s2);
});
