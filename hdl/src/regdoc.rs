//! `docs/registers.md`, generated from `abi::regs` so the document cannot
//! drift from the contract: offsets, field positions, opcodes and the
//! capability block are read from abi; only the prose about what the
//! hardware does on an access is written here. A test compares the
//! committed file with this output; regenerate with
//! `cargo run -p hdl --bin emit -- --registers-md docs/registers.md`.

use abi::regs::{self, Op};
use std::fmt::Write as _;

/// `(register, name, access, what the hardware does)`.
type Row = (regs::Reg, String, &'static str, &'static str);

/// Every register, block headers included, in window order.
fn register_map() -> Vec<Row> {
    use regs::*;
    let mut v: Vec<Row> = LAYOUT
        .iter()
        .map(|d| {
            (
                reg_header(d.ty),
                "HDR".to_string(),
                "RO",
                "Block header: type, version, size, next block's offset (0: last).",
            )
        })
        .collect();
    v.extend([
        (
            REG_ID,
            "ID".into(),
            "RO",
            "Magic \"FPAT\", ABI major/minor (see ID fields).",
        ),
        (
            REG_CAP_KEY,
            "CAP_KEY".into(),
            "RO",
            "Key width, hash id, latency, encoding widths.",
        ),
        (
            REG_CAP_EMC,
            "CAP_EMC".into(),
            "RO",
            "EMC geometry of this build.",
        ),
        (
            REG_CAP_MF,
            "CAP_MF".into(),
            "RO",
            "Megaflow geometry of this build.",
        ),
        (
            REG_CAP_MISSQ,
            "CAP_MISSQ".into(),
            "RO",
            "Miss-queue depth of this build.",
        ),
        (
            REG_CAP_CLOCK,
            "CAP_CLOCK".into(),
            "RO",
            "Pipeline clock in kHz from the board file (0: unknown).",
        ),
        (
            REG_SCRATCH,
            "SCRATCH".into(),
            "RW",
            "Scratch; byte strobes honoured.",
        ),
        (
            REG_CAP_ACTIONS,
            "CAP_ACTIONS".into(),
            "RO",
            "Packet path of this build: MAC ports carried, VLAN edits (0: look-aside).",
        ),
        (
            REG_CTRL,
            "CTRL".into(),
            "RW",
            "Byte 0 written: ENABLE := bit; CLEAR_COUNTERS / CLEAR_TABLES pulse when 1.",
        ),
        (
            REG_STATUS,
            "STATUS".into(),
            "RO",
            "BUSY while a command or table clear runs; CMD_ERROR of the last command.",
        ),
        (
            REG_TIME,
            "TIME".into(),
            "RO",
            "Cycle counter since configuration (not cleared by reset).",
        ),
        (
            REG_CNT_LOOKUPS,
            "CNT_LOOKUPS".into(),
            "RO",
            "Lookups accepted.",
        ),
        (REG_CNT_EMC_HITS, "CNT_EMC_HITS".into(), "RO", "EMC hits."),
        (
            REG_CNT_MF_HITS,
            "CNT_MF_HITS".into(),
            "RO",
            "Megaflow hits (EMC missed).",
        ),
        (
            REG_CNT_MISSES,
            "CNT_MISSES".into(),
            "RO",
            "Misses, queued or dropped.",
        ),
        (
            REG_CNT_MISS_DROPS,
            "CNT_MISS_DROPS".into(),
            "RO",
            "Misses dropped because the miss queue was full.",
        ),
        (
            REG_CNT_COMMANDS,
            "CNT_COMMANDS".into(),
            "RO",
            "Writes to CMD, accepted or rejected.",
        ),
        (
            REG_HQ_REF,
            "HQ_REF".into(),
            "RO",
            "BAR, queue count and offset of the host queue ring registers (packet-path builds).",
        ),
    ]);
    for i in 0..abi::HW_KEY_WORDS {
        v.push((
            REG_STAGE_KEY.word(i),
            format!("STAGE_KEY[{i}]"),
            "RW",
            "Staging key word; byte strobes honoured.",
        ));
    }
    v.extend([
        (
            REG_CMD,
            "CMD".into(),
            "RW",
            "A whole (8-byte) write executes the command; reads the last command word.",
        ),
        (
            REG_STAGE_ACTION,
            "STAGE_ACTION".into(),
            "RW",
            "Action word the next EMC/MF_WRITE installs at its entry's position (invalidate and clear write 0); byte strobes honoured.",
        ),
        (
            REG_STATS_SEL,
            "STATS_SEL".into(),
            "RW",
            "Selects the entry whose statistics STATS_HITS/USED/BYTES show.",
        ),
        (
            REG_STATS_HITS,
            "STATS_HITS".into(),
            "RO",
            "Hits of the selected entry since it was written (0 if the selector names no entry).",
        ),
        (
            REG_STATS_USED,
            "STATS_USED".into(),
            "RO",
            "TIME of the selected entry's last hit, or of its write.",
        ),
        (
            REG_STATS_BYTES,
            "STATS_BYTES".into(),
            "RO",
            "Bytes of the selected entry's hits since it was written, modulo 2^48 (STATS_BYTES_BITS): accumulate deltas.",
        ),
        (
            REG_MISSQ_LEVEL,
            "MISSQ_LEVEL".into(),
            "RO",
            "Misses waiting.",
        ),
        (
            REG_MISSQ_META,
            "MISSQ_META".into(),
            "RO",
            "Head entry's EMC hash and tag (valid when LEVEL > 0).",
        ),
        (
            REG_MISSQ_POP,
            "MISSQ_POP".into(),
            "WO",
            "Any write drops the head entry (ignored when empty).",
        ),
    ]);
    for i in 0..abi::HW_KEY_WORDS {
        v.push((
            REG_MISSQ_KEY.word(i),
            format!("MISSQ_KEY[{i}]"),
            "RO",
            "Head entry's key word.",
        ));
    }
    v.sort_by_key(|r| r.0.addr());
    v
}

/// The whole document.
pub fn registers_md() -> String {
    let mut s = String::new();
    let w = &mut s;
    writeln!(w, "# Registers (fastpath_top AXI4-Lite slave)\n").unwrap();
    writeln!(
        w,
        "<!-- Generated by `cargo run -p hdl --bin emit -- --registers-md docs/registers.md` \
         from abi::regs; a test fails if this file differs. Do not edit by hand. -->\n"
    )
    .unwrap();
    writeln!(
        w,
        "AXI4-Lite, 64-bit data, {}-bit byte address ({} byte window), every register 64 bits \
         at an 8-byte-aligned offset. Responses are always OKAY; unmapped offsets read 0 and \
         ignore writes. Writes are accepted when address and data are both valid and no command \
         or table clear is running, so a write that arrives during one waits on the bus rather \
         than being lost.\n",
        crate::regfile::AXIL_ADDR_BITS,
        regs::REG_WINDOW_BYTES
    )
    .unwrap();
    writeln!(w, "## A 32-bit bus\n\n{}", regs::BUS32_SEMANTICS).unwrap();
    writeln!(w, "## Register blocks\n\n{}", regs::BLOCKS_SEMANTICS).unwrap();
    writeln!(
        w,
        "The chain of this build ({} blocks at most; the host-queue block only in builds \
         with a packet path):\n\n| block | type | version | base | size |\n|---|---|---|---|---|",
        regs::MAX_BLOCKS
    )
    .unwrap();
    for d in regs::LAYOUT {
        writeln!(
            w,
            "| {} | `0x{:04x}` | {}.{} | `0x{:03x}` | `0x{:x}` |",
            d.ty.name(),
            d.ty as u16,
            d.major,
            d.minor,
            d.base,
            d.size
        )
        .unwrap();
    }
    writeln!(w, "\n## Register map\n").unwrap();
    writeln!(
        w,
        "Offsets are relative to the block's base; the window offset is where this build's \
         layout puts the register (a driver uses the base it discovers).\n\n\
         | block | offset | window | name | access | behaviour |\n|---|---|---|---|---|---|"
    )
    .unwrap();
    for (r, name, acc, what) in register_map() {
        writeln!(
            w,
            "| {} | `0x{:02x}` | `0x{:03x}` | {name} | {acc} | {what} |",
            r.block.name(),
            r.off,
            r.addr()
        )
        .unwrap();
    }
    writeln!(w, "\n## Field layouts\n").unwrap();
    writeln!(
        w,
        "Bit ranges are inclusive, LSB = bit 0 of the 64-bit word.\n"
    )
    .unwrap();
    for (name, fields) in regs::ALL_LAYOUTS {
        writeln!(w, "### {name}\n\n| field | bits | width |\n|---|---|---|").unwrap();
        for f in *fields {
            let lo = f.shift();
            let hi = lo + f.width as u32 - 1;
            writeln!(w, "| {} | {hi}..{lo} | {} |", f.name, f.width).unwrap();
        }
        writeln!(w).unwrap();
    }
    host_queue_md(w);
    writeln!(w, "## Command opcodes (CMD_OP)\n\n| op | name |\n|---|---|").unwrap();
    for v in 0..=u8::MAX {
        if let Some(op) = Op::from_u8(v) {
            writeln!(w, "| {v} | {op:?} |").unwrap();
        }
    }
    writeln!(
        w,
        "\nA command is rejected (STATUS.CMD_ERROR = 1, nothing written) when the opcode is \
         unknown, the word was written with partial strobes, the slot is not below CAP_MF_SLOTS \
         (megaflow and mask ops), or the index is not below the table's entries (EMC: \
         2^CAP_EMC_LOG2_ENTRIES; megaflow: 2^CAP_MF_LOG2_BUCKETS x CAP_MF_BUCKET_SLOTS). An \
         accepted command clears CMD_ERROR. A command writes the tables {} clocks after its \
         write handshake (the fields are checked first; the megaflow index is split into \
         bucket and way by wires, as CAP_MF_BUCKET_SLOTS is a power of two), so a lookup \
         accepted up to the handshake clock sees the old entry; register accesses wait on \
         the bus until it is done.\n",
        crate::regfile::CMD_EXEC_DELAY
    )
    .unwrap();
    writeln!(w, "## Installing entries\n").unwrap();
    writeln!(
        w,
        "* EMC entry: write STAGE_KEY[0..8] (8 writes), then CMD = EmcWrite(index, flow_id): \
         **9 writes**. The entry (key, flow id, valid) reaches both candidate RAM copies in one \
         clock, so a lookup sees the old entry or the new one.\n\
         * Megaflow: MaskSet(slot) once per mask (8 + 1 writes), then per entry the key words \
         the mask covers (at most 8) and CMD = MfWrite(slot, index): **at most 9 writes**. The \
         hardware stores `staging & mask[slot]`.\n\
         * Writing an entry resets its statistics (hits 0, used = write time).\n\
         * Reset clears registers, counters and masks and then clears every table (STATUS.BUSY; \
         lk_ready stays low until it is done). CTRL.CLEAR_TABLES does the same while lookups \
         continue (they may hit entries not yet cleared).\n"
    )
    .unwrap();
    s
}

/// The host queue ring block (`abi::regs::HOSTQ_*`, `abi::hostring`).
fn host_queue_md(w: &mut String) {
    use abi::hostring::{DescStatus, DESC_BYTES, HOSTQ_DESC};
    use regs::*;
    writeln!(
        w,
        "## Host queue rings (BAR {bar})\n\n\
         The host queue pair as descriptor rings in host memory (`abi::hostring`): the block a \
         shell's DMA engine provides on a board and the simulated NIC models beside its RTL. \
         Queue {rx} is the host RX ring (C2H), queue {tx} the host TX ring (H2C). The \
         host-queue block of BAR 0 (HQ_REF) names where they are: queue q's register r is at \
         `HQ_REF_OFFSET + q * 0x{stride:x} + r` of BAR HQ_REF_BAR, a {win:#x}-byte window. A ring holds \
         2^HQ_LOG2_SIZE descriptors of {DESC_BYTES} bytes at HQ_BASE ({align}-byte aligned). \
         HQ_PROD and HQ_CONS are free-running 16-bit indices: the host writes PROD (the \
         doorbell) after writing descriptors, the NIC advances CONS as it writes descriptors \
         back (DESC_DONE = 1 with DESC_STATUS). RX: the host posts empty buffers; a frame with \
         no posted buffer is dropped and counted in HQ_DROPS, a frame longer than its buffer is \
         written back with TooLong and dropped. TX: the host posts frames with their host TX \
         meta word in DESC_META0; FRAME_LEN > BUF_LEN is written back TooLong and not sent. A \
         doorbell that would post more than the ring holds is ignored.\n",
        bar = HOSTQ_BAR,
        rx = HOSTQ_RX,
        tx = HOSTQ_TX,
        stride = HOSTQ_STRIDE,
        win = HOSTQ_WINDOW_BYTES,
        align = HOSTQ_RING_ALIGN,
    )
    .unwrap();
    let what = |name: &str| match name {
        "HQ_BASE" => ("RW", "Ring base IOVA; write while the ring is disabled."),
        "HQ_CTRL" => (
            "RW",
            "HQ_LOG2_SIZE, HQ_ENABLE (writing 1 starts at index 0).",
        ),
        "HQ_PROD" => ("RW", "Producer index: the host's doorbell."),
        "HQ_CONS" => (
            "RO",
            "Consumer index: descriptors before it are written back.",
        ),
        "HQ_DROPS" => ("RO", "RX frames dropped with no buffer posted (queue 0)."),
        _ => ("?", "?"),
    };
    writeln!(
        w,
        "| offset in queue | name | access | behaviour |\n|---|---|---|---|"
    )
    .unwrap();
    for (name, off) in HOSTQ_REGISTERS {
        let (acc, text) = what(name);
        writeln!(w, "| `0x{off:02x}` | {name} | {acc} | {text} |").unwrap();
    }
    writeln!(w).unwrap();
    for (name, fields) in HOSTQ_LAYOUTS.iter().chain(&[("HOSTQ_DESC", HOSTQ_DESC)]) {
        writeln!(w, "### {name}\n\n| field | bits | width |\n|---|---|---|").unwrap();
        for f in *fields {
            let lo = f.offset as u32;
            let hi = lo + f.width as u32 - 1;
            writeln!(w, "| {} | {hi}..{lo} | {} |", f.name, f.width).unwrap();
        }
        writeln!(w).unwrap();
    }
    writeln!(w, "DESC_STATUS codes:\n\n| code | status |\n|---|---|").unwrap();
    for c in 0..8 {
        if let Some(s) = DescStatus::from_code(c) {
            writeln!(w, "| {c} | {s:?} |").unwrap();
        }
    }
    writeln!(w).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_registers_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/registers.md");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == registers_md(),
            "docs/registers.md is stale: run `cargo run -p hdl --bin emit -- --registers-md docs/registers.md`"
        );
    }

    #[test]
    fn map_has_every_offset_once() {
        let m = register_map();
        let mut offs: Vec<u64> = m.iter().map(|r| r.0.addr()).collect();
        offs.dedup();
        assert_eq!(offs.len(), m.len());
        // Every register once; each key array as its words; one header a block.
        let arrays = regs::KEY_ARRAY_REGISTERS.len();
        assert_eq!(
            m.len(),
            regs::REGISTERS.len() - arrays + arrays * abi::HW_KEY_WORDS + regs::LAYOUT.len()
        );
    }
}
