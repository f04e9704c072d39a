//! Register map and the encodings of commands, results and queue entries.
//!
//! The register file is AXI4-Lite with 64-bit data: every register is 64 bits
//! at an 8-byte-aligned byte offset. 64-bit data keeps an entry install at
//! eight key writes plus one command (≤ 12 writes was the budget), and a
//! 64-bit PCIe memory write is a single TLP.
//!
//! # A 32-bit bus
//!
//! See [`BUS32_SEMANTICS`]: writes commit on a register's high half, reads
//! latch on its low half.
//!
//! Entries are written through staging registers and one command register:
//! the write to [`REG_CMD`] commits atomically, so a lookup never sees a
//! half-written entry. A megaflow write stores `staging & mask[slot]`, so the
//! host may skip key words its mask does not cover.

use crate::bits::BitField;
use crate::geometry::{Geometry, GeometryError, EMC_WAYS};
use crate::key::HW_KEY_WORDS;
use thiserror::Error;

/// How the register map behaves on a 32-bit AXI4-Lite bus (Markdown; the
/// 32-bit form of the register file implements it, `driver::Split32` follows
/// it, docs/registers.md prints it).
pub const BUS32_SEMANTICS: &str = r#"A shell with a 32-bit AXI4-Lite master (the OpenNIC shell, Corundum) uses
the 32-bit form of the register file (`fastpath_axil_regs32`,
`fastpath_top32`). Every register keeps its 8-byte offset; its low half
is at offset + 0, its high half at offset + 4. A driver accesses a
register as two 32-bit accesses, low half first, with no other register
access between them (`driver::Split32`):

- **Writes commit on the high half.** A write of the low half is held and
  has no effect yet; the write of the high half at offset + 4 writes the
  register once, with both halves and their strobes, so every side effect
  happens in the clock of the high half's handshake: `REG_CMD` executes,
  `REG_CTRL` enables, clears counters or tables, `REG_MISSQ_POP`
  pops, `REG_STATS_SEL` selects, `REG_STAGE_KEY` and
  `REG_STAGE_ACTION` stage, `REG_SCRATCH` stores. A held low half is
  used by the next write only: if that write is anything but the high
  half of the same register, the held half is dropped. A high half
  written alone writes only its four bytes (strobes 0xf0), which
  `REG_CMD` refuses as a partial command word (`STATUS_CMD_ERROR`).
- **Reads latch on the low half.** A read of the low half reads the whole
  64-bit register and keeps its high half; the read of offset + 4 that
  follows returns that kept half, so a counter (`REG_CNT_LOOKUPS` ..,
  `REG_TIME`, `REG_STATS_HITS`, `REG_STATS_USED`, `REG_STATS_BYTES`) or a status never
  tears. Any other read drops the kept half; a high half read on its own
  reads the register at that moment. No register has a side effect on
  read, on either bus.
"#;

/// Bytes the register window spans (BAR size needed).
pub const REG_WINDOW_BYTES: u64 = 0x1000;

/// How the register window is organised (Markdown; docs/registers.md prints it).
pub const BLOCKS_SEMANTICS: &str = r#"The register window is a chain of typed, versioned register blocks, as in
Corundum (its `mqnic_enumerate_reg_block_list` walks type, version and
next pointer). Every block starts with a header word ([`BLK_HDR_FIELDS`]):
its type, version, size, and the window offset of the next block's
header (0: the last block). The first block is at offset 0. Registers are
offsets relative to their block's base; the driver walks the chain at open
(at most `MAX_BLOCKS` headers; a loop, a misaligned pointer or one outside
the window is an error), finds each block it needs by type, refuses a
major version it does not know, and addresses every register as base +
offset. A build declares where its blocks are (`LAYOUT`), so a new block
(DMA, MAC, statistics) is added to the chain without moving any other.
"#;

/// Largest number of blocks a chain may have (bounds the driver's walk).
pub const MAX_BLOCKS: usize = 32;

crate::layout! {
    /// The header word at each block's base.
    BLK_HDR_FIELDS {
        /// [`BlockType`] code.
        BLK_TYPE = (0, 16),
        /// Block minor version: backwards-compatible additions.
        BLK_VER_MINOR = (16, 8),
        /// Block major version: an incompatible change of the block.
        BLK_VER_MAJOR = (24, 8),
        /// Window offset of the next block's header; 0 ends the chain.
        BLK_NEXT = (32, 16),
        /// Bytes of the block, header included.
        BLK_SIZE = (48, 16),
    }
}

/// A register block's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum BlockType {
    /// Identity and capabilities ([`REG_ID`] .. [`REG_CAP_ACTIONS`], [`REG_SCRATCH`]).
    Identity = 0x0001,
    /// Control, status, time and the global counters.
    Control = 0x0002,
    /// Table commands: staging key and action, command register.
    Table = 0x0003,
    /// Per-entry statistics (selector and the selected entry's counters).
    Stats = 0x0004,
    /// The miss queue.
    MissQueue = 0x0005,
    /// Names the BAR and offset of the host queue ring registers
    /// ([`REG_HQ_REF`]); present in builds with a packet path.
    HostQueue = 0x0006,
}

impl BlockType {
    /// Every block type, in layout order.
    pub const ALL: [BlockType; 6] = [
        BlockType::Identity,
        BlockType::Control,
        BlockType::Table,
        BlockType::Stats,
        BlockType::MissQueue,
        BlockType::HostQueue,
    ];

    /// The type of code `c`.
    pub fn from_code(c: u16) -> Option<BlockType> {
        BlockType::ALL.into_iter().find(|t| *t as u16 == c)
    }

    /// Name for messages and documentation.
    pub const fn name(self) -> &'static str {
        match self {
            BlockType::Identity => "identity",
            BlockType::Control => "control",
            BlockType::Table => "table",
            BlockType::Stats => "stats",
            BlockType::MissQueue => "miss-queue",
            BlockType::HostQueue => "host-queue",
        }
    }

    /// Where this build puts the block ([`LAYOUT`]).
    pub const fn decl(self) -> &'static BlockDecl {
        &LAYOUT[self as usize - 1]
    }
}

/// One block of the declared layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockDecl {
    /// Type.
    pub ty: BlockType,
    /// Major version this software and the RTL implement.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Window offset of the header.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

/// Where each block sits in the window, in chain order and indexed by
/// `BlockType as usize - 1`. The RTL decodes from it; the driver never
/// reads it (it discovers the bases).
pub const LAYOUT: [BlockDecl; 6] = [
    BlockDecl {
        ty: BlockType::Identity,
        major: 1,
        minor: 0,
        base: 0x000,
        size: 0x80,
    },
    BlockDecl {
        ty: BlockType::Control,
        major: 1,
        minor: 0,
        base: 0x080,
        size: 0x80,
    },
    BlockDecl {
        ty: BlockType::Table,
        major: 1,
        minor: 0,
        base: 0x100,
        size: 0x80,
    },
    BlockDecl {
        ty: BlockType::Stats,
        major: 1,
        minor: 0,
        base: 0x180,
        size: 0x40,
    },
    BlockDecl {
        ty: BlockType::MissQueue,
        major: 1,
        minor: 0,
        base: 0x200,
        size: 0x80,
    },
    BlockDecl {
        ty: BlockType::HostQueue,
        major: 1,
        minor: 0,
        base: 0x280,
        size: 0x40,
    },
];

/// A register: a block and an offset relative to the block's base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg {
    /// Its block.
    pub block: BlockType,
    /// Byte offset from the block's base.
    pub off: u64,
}

impl Reg {
    /// The register at `off` in `block`.
    pub const fn new(block: BlockType, off: u64) -> Reg {
        Reg { block, off }
    }

    /// Word `i` of a key-word array register.
    pub const fn word(self, i: usize) -> Reg {
        Reg::new(self.block, self.off + 8 * i as u64)
    }

    /// Window offset in the declared [`LAYOUT`] (RTL, models, benches).
    pub const fn addr(self) -> u64 {
        self.block.decl().base + self.off
    }

    /// The register at window offset `addr` in the declared layout, if a
    /// block covers it (key-array words come back as `word(i)`).
    pub fn at(addr: u64) -> Option<Reg> {
        LAYOUT
            .iter()
            .find(|d| (d.base..d.base + d.size).contains(&addr))
            .map(|d| Reg::new(d.ty, addr - d.base))
    }
}

/// A block's header word (in any block, offset 0).
pub const fn reg_header(block: BlockType) -> Reg {
    Reg::new(block, 0x00)
}

/// ID register: magic, ABI major and minor.
pub const REG_ID: Reg = Reg::new(BlockType::Identity, 0x08);
/// Key and encoding capabilities.
pub const REG_CAP_KEY: Reg = Reg::new(BlockType::Identity, 0x10);
/// EMC geometry.
pub const REG_CAP_EMC: Reg = Reg::new(BlockType::Identity, 0x18);
/// Megaflow geometry.
pub const REG_CAP_MF: Reg = Reg::new(BlockType::Identity, 0x20);
/// Miss-queue geometry.
pub const REG_CAP_MISSQ: Reg = Reg::new(BlockType::Identity, 0x28);
/// Pipeline clock.
pub const REG_CAP_CLOCK: Reg = Reg::new(BlockType::Identity, 0x30);
/// Read/write scratch register (bus liveness check).
pub const REG_SCRATCH: Reg = Reg::new(BlockType::Identity, 0x38);
/// Capability: what the action stage executes (0: a look-aside build).
pub const REG_CAP_ACTIONS: Reg = Reg::new(BlockType::Identity, 0x40);
/// Control: see [`CTRL_FIELDS`].
pub const REG_CTRL: Reg = Reg::new(BlockType::Control, 0x08);
/// Status: see [`STATUS_FIELDS`].
pub const REG_STATUS: Reg = Reg::new(BlockType::Control, 0x10);
/// Free-running cycle counter; entry timestamps use it.
pub const REG_TIME: Reg = Reg::new(BlockType::Control, 0x18);
/// Global counter: lookups accepted.
pub const REG_CNT_LOOKUPS: Reg = Reg::new(BlockType::Control, 0x20);
/// Global counter: EMC hits.
pub const REG_CNT_EMC_HITS: Reg = Reg::new(BlockType::Control, 0x28);
/// Global counter: megaflow hits (EMC missed).
pub const REG_CNT_MF_HITS: Reg = Reg::new(BlockType::Control, 0x30);
/// Global counter: misses (queued or dropped).
pub const REG_CNT_MISSES: Reg = Reg::new(BlockType::Control, 0x38);
/// Global counter: misses dropped because the miss queue was full.
pub const REG_CNT_MISS_DROPS: Reg = Reg::new(BlockType::Control, 0x40);
/// Global counter: commands executed.
pub const REG_CNT_COMMANDS: Reg = Reg::new(BlockType::Control, 0x48);
/// Command register: a write executes [`Command`] using the staging key
/// (on a 32-bit bus: the write of its high half, offset + 4).
pub const REG_CMD: Reg = Reg::new(BlockType::Table, 0x08);
/// Action word ([`crate::action::ActionEntry`]) that the next EMC or
/// megaflow write installs with its entry, at the same table position of
/// the action RAM and in the same clock; an invalidate or a table clear
/// writes 0 ([`crate::action::ActionKind::Drop`]) there.
pub const REG_STAGE_ACTION: Reg = Reg::new(BlockType::Table, 0x10);
/// First staging key word; word `i` is `REG_STAGE_KEY.word(i)`.
pub const REG_STAGE_KEY: Reg = Reg::new(BlockType::Table, 0x40);
/// Per-entry statistics selector ([`StatsSel`]).
pub const REG_STATS_SEL: Reg = Reg::new(BlockType::Stats, 0x08);
/// Hit count of the selected entry (since it was written).
pub const REG_STATS_HITS: Reg = Reg::new(BlockType::Stats, 0x10);
/// [`REG_TIME`] value of the selected entry's last hit (or of its write).
pub const REG_STATS_USED: Reg = Reg::new(BlockType::Stats, 0x18);
/// Bytes of the selected entry's hits (since it was written), modulo
/// 2^[`STATS_BYTES_BITS`]: the host accumulates the deltas.
pub const REG_STATS_BYTES: Reg = Reg::new(BlockType::Stats, 0x20);
/// Width of the per-entry byte counter ([`REG_STATS_BYTES`]). An entry hit
/// every clock at 148.8 Mpps with 9000-byte frames adds 1.34e12 bytes/s,
/// so 48 bits wrap after 210 s, 420 times the host's 500 ms revalidation
/// period (docs/hardware.md, "Statistics widths and their cost").
pub const STATS_BYTES_BITS: u32 = 48;
/// Width of the frame length a lookup carries into the byte counter
/// (frames are at most `abi::parser::MAX_FRAME_LEN` = 2^16 - 1 bytes).
pub const STATS_LEN_BITS: u32 = 16;
const _: () = assert!((1usize << STATS_LEN_BITS) - 1 == crate::parser::MAX_FRAME_LEN);
/// Number of misses waiting in the queue.
pub const REG_MISSQ_LEVEL: Reg = Reg::new(BlockType::MissQueue, 0x08);
/// Head entry's hash and tag ([`MISS_META_FIELDS`]); valid when level > 0.
pub const REG_MISSQ_META: Reg = Reg::new(BlockType::MissQueue, 0x10);
/// Write any value: drop the head entry of the miss queue (on a 32-bit bus:
/// the write of its high half pops).
pub const REG_MISSQ_POP: Reg = Reg::new(BlockType::MissQueue, 0x18);
/// First word of the head entry's key; word `i` is `REG_MISSQ_KEY.word(i)`.
pub const REG_MISSQ_KEY: Reg = Reg::new(BlockType::MissQueue, 0x40);
/// Where the host queue ring registers are ([`HQ_REF_FIELDS`]).
pub const REG_HQ_REF: Reg = Reg::new(BlockType::HostQueue, 0x08);

// Key arrays are decoded by masking the word bits, so they sit on a
// HW_KEY_BYTES boundary and inside their block.
const _: () = assert!(REG_STAGE_KEY
    .addr()
    .is_multiple_of(crate::HW_KEY_BYTES as u64));
const _: () = assert!(REG_MISSQ_KEY
    .addr()
    .is_multiple_of(crate::HW_KEY_BYTES as u64));
const _: () =
    assert!(REG_STAGE_KEY.off + crate::HW_KEY_BYTES as u64 <= BlockType::Table.decl().size);
const _: () =
    assert!(REG_MISSQ_KEY.off + crate::HW_KEY_BYTES as u64 <= BlockType::MissQueue.decl().size);

/// Every single register, by name (key-word arrays are listed as their
/// first word; block headers are not listed), for documentation, exports
/// and tests.
pub const REGISTERS: &[(&str, Reg)] = &[
    ("ID", REG_ID),
    ("CAP_KEY", REG_CAP_KEY),
    ("CAP_EMC", REG_CAP_EMC),
    ("CAP_MF", REG_CAP_MF),
    ("CAP_MISSQ", REG_CAP_MISSQ),
    ("CAP_CLOCK", REG_CAP_CLOCK),
    ("SCRATCH", REG_SCRATCH),
    ("CAP_ACTIONS", REG_CAP_ACTIONS),
    ("CTRL", REG_CTRL),
    ("STATUS", REG_STATUS),
    ("TIME", REG_TIME),
    ("CNT_LOOKUPS", REG_CNT_LOOKUPS),
    ("CNT_EMC_HITS", REG_CNT_EMC_HITS),
    ("CNT_MF_HITS", REG_CNT_MF_HITS),
    ("CNT_MISSES", REG_CNT_MISSES),
    ("CNT_MISS_DROPS", REG_CNT_MISS_DROPS),
    ("CNT_COMMANDS", REG_CNT_COMMANDS),
    ("CMD", REG_CMD),
    ("STAGE_ACTION", REG_STAGE_ACTION),
    ("STAGE_KEY", REG_STAGE_KEY),
    ("STATS_SEL", REG_STATS_SEL),
    ("STATS_HITS", REG_STATS_HITS),
    ("STATS_USED", REG_STATS_USED),
    ("STATS_BYTES", REG_STATS_BYTES),
    ("MISSQ_LEVEL", REG_MISSQ_LEVEL),
    ("MISSQ_META", REG_MISSQ_META),
    ("MISSQ_POP", REG_MISSQ_POP),
    ("MISSQ_KEY", REG_MISSQ_KEY),
    ("HQ_REF", REG_HQ_REF),
];

crate::layout! {
    /// [`REG_HQ_REF`] fields: the host queue ring registers' window.
    HQ_REF_FIELDS {
        /// BAR of the ring registers ([`HOSTQ_BAR`]).
        HQ_REF_BAR = (0, 8),
        /// Queues in it ([`HOSTQ_QUEUES`]).
        HQ_REF_QUEUES = (8, 8),
        /// Byte offset of queue 0's registers in that BAR.
        HQ_REF_OFFSET = (32, 32),
    }
}

/// One block found by walking the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FoundBlock {
    /// Type code (kept when unknown to this software).
    pub code: u16,
    /// Its type, if this software knows it.
    pub ty: Option<BlockType>,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Window offset of the header.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

/// Why a block chain is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BlockError {
    /// The word at offset 0 is not an identity block header.
    #[error("offset 0 reads {0:#018x}, not an identity register block header (type 0x0001): this is not a fastpath pipeline, or one older than ABI 3")]
    NotFastpath(u64),
    /// A next pointer names an offset already visited.
    #[error("register block chain loops: the block at {from:#x} points back to {to:#x}")]
    Loop {
        /// Header that points back.
        from: u64,
        /// Offset it names.
        to: u64,
    },
    /// A next pointer (or a block's extent) leaves the window or is not 8-byte aligned.
    #[error("register block at {from:#x} names {to:#x}, outside the {window:#x}-byte window or misaligned")]
    OutOfWindow {
        /// Header holding the pointer.
        from: u64,
        /// What it names.
        to: u64,
        /// Window bytes.
        window: u64,
    },
    /// More than [`MAX_BLOCKS`] blocks.
    #[error("register block chain has more than {0} blocks")]
    TooLong(usize),
    /// A block this software needs is not in the chain.
    #[error("no {} register block (type {:#06x}) in the chain [{found}]; {hint}", .ty.name(), *.ty as u16)]
    Missing {
        /// The block.
        ty: BlockType,
        /// What the chain holds.
        found: String,
        /// Why it may be missing.
        hint: &'static str,
    },
    /// A block's major version is not the one this software drives.
    #[error("{} register block at {base:#x} is version {major}.{minor}, this software drives {ours}.x", .ty.name())]
    Version {
        /// The block.
        ty: BlockType,
        /// Its base.
        base: u64,
        /// Device major.
        major: u8,
        /// Device minor.
        minor: u8,
        /// Ours.
        ours: u8,
    },
}

/// The block chain of a register window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// Blocks in chain order.
    pub list: Vec<FoundBlock>,
}

impl Blocks {
    /// Walks the chain from offset 0 of a `window`-byte window. The walk is
    /// bounded: a loop, a pointer outside the window or a chain longer than
    /// [`MAX_BLOCKS`] is an error.
    pub fn walk<E>(
        window: u64,
        mut read: impl FnMut(u64) -> Result<u64, E>,
    ) -> Result<Result<Blocks, BlockError>, E> {
        let mut list: Vec<FoundBlock> = Vec::new();
        let mut at = 0u64;
        loop {
            if list.len() == MAX_BLOCKS {
                return Ok(Err(BlockError::TooLong(MAX_BLOCKS)));
            }
            let w = [read(at)?];
            let size = BLK_SIZE.get(&w);
            let code = BLK_TYPE.get(&w) as u16;
            if list.is_empty() && code != BlockType::Identity as u16 {
                return Ok(Err(BlockError::NotFastpath(w[0])));
            }
            if at + size > window {
                return Ok(Err(BlockError::OutOfWindow {
                    from: at,
                    to: at + size,
                    window,
                }));
            }
            list.push(FoundBlock {
                code,
                ty: BlockType::from_code(code),
                major: BLK_VER_MAJOR.get(&w) as u8,
                minor: BLK_VER_MINOR.get(&w) as u8,
                base: at,
                size,
            });
            let next = BLK_NEXT.get(&w);
            if next == 0 {
                return Ok(Ok(Blocks { list }));
            }
            if next >= window || !next.is_multiple_of(8) {
                return Ok(Err(BlockError::OutOfWindow {
                    from: at,
                    to: next,
                    window,
                }));
            }
            if list.iter().any(|b| b.base == next) {
                return Ok(Err(BlockError::Loop { from: at, to: next }));
            }
            at = next;
        }
    }

    /// The first block of type `ty`, checked against the major version this
    /// software drives.
    pub fn find(&self, ty: BlockType) -> Result<FoundBlock, BlockError> {
        let b = self
            .list
            .iter()
            .find(|b| b.ty == Some(ty))
            .ok_or_else(|| BlockError::Missing {
                ty,
                found: self.summary(),
                hint: match ty {
                    BlockType::HostQueue => {
                        "a look-aside build (no packet path) has no host queues"
                    }
                    _ => "the bitstream is not a fastpath pipeline or is older than ABI 3",
                },
            })?;
        let ours = ty.decl().major;
        if b.major != ours {
            return Err(BlockError::Version {
                ty,
                base: b.base,
                major: b.major,
                minor: b.minor,
                ours,
            });
        }
        Ok(*b)
    }

    /// The blocks, as `name@base` for messages.
    pub fn summary(&self) -> String {
        self.list
            .iter()
            .map(|b| match b.ty {
                Some(t) => format!("{}@{:#x}", t.name(), b.base),
                None => format!("{:#06x}@{:#x}", b.code, b.base),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The header word of `d` with `next` as its next pointer.
pub fn header_word(d: &BlockDecl, next: u64) -> u64 {
    let mut w = [0u64];
    BLK_TYPE.set(&mut w, d.ty as u64);
    BLK_VER_MAJOR.set(&mut w, d.major as u64);
    BLK_VER_MINOR.set(&mut w, d.minor as u64);
    BLK_NEXT.set(&mut w, next);
    BLK_SIZE.set(&mut w, d.size);
    w[0]
}

/// BAR of the host queue ring registers ([`HOSTQ_REGISTERS`]): the block a
/// shell's DMA engine owns, apart from the pipeline's register file (BAR 0).
pub const HOSTQ_BAR: u8 = 2;
/// Bytes the host queue register window spans.
pub const HOSTQ_WINDOW_BYTES: u64 = 0x100;
/// Queue index of the host RX ring (card to host, C2H).
pub const HOSTQ_RX: usize = 0;
/// Queue index of the host TX ring (host to card, H2C).
pub const HOSTQ_TX: usize = 1;
/// Queues in the block.
pub const HOSTQ_QUEUES: usize = 2;
/// Bytes between two queues' registers: queue `q`'s register `r` is at
/// `q * HOSTQ_STRIDE + r`.
pub const HOSTQ_STRIDE: u64 = 0x40;
/// Largest ring: 2^this descriptors (indices are 16 bits, free-running).
pub const HOSTQ_MAX_LOG2_SIZE: u8 = 15;
/// Ring base IOVA (aligned to [`HOSTQ_RING_ALIGN`]); write while disabled.
pub const REG_HQ_BASE: u64 = 0x00;
/// Ring control: see [`HQ_CTRL_FIELDS`].
pub const REG_HQ_CTRL: u64 = 0x08;
/// Producer index (host writes: the doorbell), see [`HQ_INDEX_FIELDS`].
pub const REG_HQ_PROD: u64 = 0x10;
/// Consumer index (read-only: descriptors before it are written back).
pub const REG_HQ_CONS: u64 = 0x18;
/// Read-only counter: RX frames dropped because no buffer was posted.
pub const REG_HQ_DROPS: u64 = 0x20;
/// Alignment of a ring's base IOVA in bytes.
pub const HOSTQ_RING_ALIGN: u64 = 4096;

/// Registers of one queue in the host queue block, by name and offset
/// inside the queue's [`HOSTQ_STRIDE`] bytes.
pub const HOSTQ_REGISTERS: &[(&str, u64)] = &[
    ("HQ_BASE", REG_HQ_BASE),
    ("HQ_CTRL", REG_HQ_CTRL),
    ("HQ_PROD", REG_HQ_PROD),
    ("HQ_CONS", REG_HQ_CONS),
    ("HQ_DROPS", REG_HQ_DROPS),
];

crate::layout! {
    /// [`REG_HQ_CTRL`] fields.
    HQ_CTRL_FIELDS {
        /// log2 of the ring's descriptors (1..=[`HOSTQ_MAX_LOG2_SIZE`]).
        HQ_LOG2_SIZE = (0, 4),
        /// 1: the ring runs. Writing 1 starts it at index 0 (PROD = CONS = 0,
        /// DROPS = 0); 0 stops it (RX frames then count as drops).
        HQ_ENABLE = (8, 1),
    }
}

crate::layout! {
    /// [`REG_HQ_PROD`] and [`REG_HQ_CONS`] fields.
    HQ_INDEX_FIELDS {
        /// Free-running index; descriptor `i` is at `BASE + (i mod size) * 32`.
        HQ_INDEX = (0, 16),
    }
}

// A full ring must differ from an empty one in 16-bit free-running indices.
const _: () = assert!(HQ_LOG2_SIZE.value_mask() >= HOSTQ_MAX_LOG2_SIZE as u64);
const _: () = assert!(1u64 << HOSTQ_MAX_LOG2_SIZE < 1 << HQ_INDEX.width);

/// Layout tables of the host queue block, for documentation and tests.
pub const HOSTQ_LAYOUTS: &[(&str, &[BitField])] =
    &[("HQ_CTRL", HQ_CTRL_FIELDS), ("HQ_INDEX", HQ_INDEX_FIELDS)];

/// Registers that are arrays of [`HW_KEY_WORDS`] words.
pub const KEY_ARRAY_REGISTERS: &[&str] = &["STAGE_KEY", "MISSQ_KEY"];

/// Value of [`ID_MAGIC`]: ASCII "FPAT".
pub const MAGIC: u32 = 0x4650_4154;

crate::layout! {
    /// [`REG_ID`] fields.
    ID_FIELDS {
        /// ABI minor version.
        ID_MINOR = (0, 16),
        /// ABI major version.
        ID_MAJOR = (16, 16),
        /// [`MAGIC`].
        ID_MAGIC = (32, 32),
    }
}

crate::layout! {
    /// [`REG_CAP_KEY`] fields.
    CAP_KEY_FIELDS {
        /// Key width in 64-bit words.
        CAP_KEY_WORDS = (0, 8),
        /// Hash identifier ([`crate::HASH_ID_CRC32C`]).
        CAP_HASH_ID = (8, 8),
        /// Cycles from lookup accepted to result valid.
        CAP_LATENCY = (16, 8),
        /// Width of flow ids in commands and results.
        CAP_FLOW_ID_BITS = (24, 8),
        /// Width of entry indexes in commands and results.
        CAP_INDEX_BITS = (32, 8),
        /// Width of per-entry hit counters.
        CAP_COUNTER_BITS = (40, 8),
    }
}

crate::layout! {
    /// [`REG_CAP_EMC`] fields.
    CAP_EMC_FIELDS {
        /// log2 of EMC entries.
        CAP_EMC_LOG2_ENTRIES = (0, 8),
        /// Candidate positions per key.
        CAP_EMC_WAYS = (8, 8),
    }
}

crate::layout! {
    /// [`REG_CAP_MF`] fields.
    CAP_MF_FIELDS {
        /// Mask slots.
        CAP_MF_SLOTS = (0, 8),
        /// log2 of cuckoo buckets per slot.
        CAP_MF_LOG2_BUCKETS = (8, 8),
        /// Entries per bucket.
        CAP_MF_BUCKET_SLOTS = (16, 8),
    }
}

crate::layout! {
    /// [`REG_CAP_MISSQ`] fields.
    CAP_MISSQ_FIELDS {
        /// log2 of the miss-queue depth.
        CAP_MISSQ_LOG2_DEPTH = (0, 8),
    }
}

crate::layout! {
    /// [`REG_CAP_CLOCK`] fields.
    CAP_CLOCK_FIELDS {
        /// Pipeline clock in kHz (0: unknown, e.g. in simulation).
        CAP_CLOCK_KHZ = (0, 32),
    }
}

crate::layout! {
    /// [`REG_CAP_ACTIONS`] fields: the packet path of this build.
    CAP_ACTIONS_FIELDS {
        /// MAC ports whose frames the NIC carries (0: a look-aside build
        /// that only looks keys up and never sees frames).
        CAP_MAC_PORTS = (0, 8),
        /// The action stage pushes and pops VLAN tags itself.
        CAP_ACT_VLAN = (8, 1),
        /// The action stage rewrites Ethernet addresses from the edit
        /// table, which [`Op::EditWrite`] writes.
        CAP_ACT_ETH = (9, 1),
    }
}

crate::layout! {
    /// [`REG_CTRL`] fields.
    CTRL_FIELDS {
        /// 1: lookups are accepted (reset value 1).
        CTRL_ENABLE = (0, 1),
        /// Write 1: clear global counters (self-clearing).
        CTRL_CLEAR_COUNTERS = (1, 1),
        /// Write 1: invalidate every entry and mask (self-clearing; status busy while it runs).
        CTRL_CLEAR_TABLES = (2, 1),
    }
}

crate::layout! {
    /// [`REG_STATUS`] fields.
    STATUS_FIELDS {
        /// A table clear is in progress; commands are ignored until it ends.
        STATUS_BUSY = (0, 1),
        /// The last command was rejected (bad op, slot or index).
        STATUS_CMD_ERROR = (1, 1),
    }
}

crate::layout! {
    /// [`REG_CMD`] fields.
    CMD_FIELDS {
        /// [`Op`] code.
        CMD_OP = (0, 8),
        /// Mask slot (megaflow and mask ops).
        CMD_SLOT = (8, 8),
        /// Entry index (EMC: position; megaflow: bucket × slots + way).
        CMD_INDEX = (16, 24),
        /// Flow id returned on a hit (entry writes).
        CMD_FLOW_ID = (40, 24),
    }
}

crate::layout! {
    /// Lookup result word (hardware result port, simulated NIC).
    RESULT_FIELDS {
        /// [`HitKind`].
        RESULT_KIND = (0, 2),
        /// Mask slot of a megaflow hit.
        RESULT_SLOT = (8, 8),
        /// Entry index of the hit.
        RESULT_INDEX = (16, 24),
        /// Flow id of the hit.
        RESULT_FLOW_ID = (40, 24),
    }
}

crate::layout! {
    /// [`REG_STATS_SEL`] fields.
    STATS_SEL_FIELDS {
        /// 0: EMC, 1: megaflow.
        STATS_TABLE = (0, 8),
        /// Mask slot (megaflow).
        STATS_SLOT = (8, 8),
        /// Entry index.
        STATS_INDEX = (16, 24),
    }
}

crate::layout! {
    /// [`REG_MISSQ_META`] fields.
    MISS_META_FIELDS {
        /// The key's full hash (the EMC hash), so software skips rehashing.
        MISS_HASH = (0, 32),
        /// Packet tag given with the lookup.
        MISS_TAG = (32, 32),
    }
}

/// Width of flow ids (from [`CMD_FLOW_ID`]).
pub const FLOW_ID_BITS: u8 = CMD_FLOW_ID.width;
/// Width of entry indexes (from [`CMD_INDEX`]).
pub const INDEX_BITS: u8 = CMD_INDEX.width;
/// Width of per-entry hit counters in hardware.
pub const COUNTER_BITS: u8 = 64;

/// Command opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// Does nothing (counted).
    Nop = 0,
    /// EMC entry `index` := staging key, `flow_id`; counters reset.
    EmcWrite = 1,
    /// EMC entry `index` := invalid.
    EmcInvalidate = 2,
    /// Megaflow entry (`slot`, `index`) := staging & mask[slot], `flow_id`.
    MfWrite = 3,
    /// Megaflow entry (`slot`, `index`) := invalid.
    MfInvalidate = 4,
    /// Mask of `slot` := staging key; the slot is enabled. The host must
    /// have invalidated the slot's entries before changing its mask.
    MaskSet = 5,
    /// Disables `slot` (its entries stop matching).
    MaskClear = 6,
    /// Edit-table entry `index` (below [`crate::action::EDIT_ENTRIES`]) :=
    /// staging key words `0..EDIT_WORDS`
    /// ([`crate::action::EditEntry::encode`]). The host writes an entry
    /// before any action word that names it.
    EditWrite = 7,
}

impl Op {
    /// Decodes an opcode.
    pub fn from_u8(v: u8) -> Option<Op> {
        Some(match v {
            0 => Op::Nop,
            1 => Op::EmcWrite,
            2 => Op::EmcInvalidate,
            3 => Op::MfWrite,
            4 => Op::MfInvalidate,
            5 => Op::MaskSet,
            6 => Op::MaskClear,
            7 => Op::EditWrite,
            _ => return None,
        })
    }
}

/// A decoded command word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Command {
    /// Operation.
    pub op: Op,
    /// Mask slot.
    pub slot: u8,
    /// Entry index.
    pub index: u32,
    /// Flow id.
    pub flow_id: u32,
}

/// A register value that does not decode.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Unknown opcode.
    #[error("register value {value:#018x}: unknown opcode {op}")]
    BadOp {
        /// The whole word.
        value: u64,
        /// The opcode field.
        op: u8,
    },
    /// A field does not fit its width.
    #[error("{field} = {value:#x} does not fit in {width} bits")]
    TooWide {
        /// Field name.
        field: &'static str,
        /// Value given.
        value: u64,
        /// Width available.
        width: u8,
    },
    /// Unknown hit kind.
    #[error("result word {0:#018x}: unknown hit kind 3")]
    BadKind(u64),
}

fn put(word: &mut u64, f: BitField, v: u64) -> Result<(), DecodeError> {
    if v & !f.value_mask() != 0 {
        return Err(DecodeError::TooWide {
            field: f.name,
            value: v,
            width: f.width,
        });
    }
    let mut w = [*word];
    f.set(&mut w, v);
    *word = w[0];
    Ok(())
}

impl Command {
    /// Encodes the command; fails if a field does not fit.
    pub fn encode(&self) -> Result<u64, DecodeError> {
        let mut w = 0;
        put(&mut w, CMD_OP, self.op as u64)?;
        put(&mut w, CMD_SLOT, self.slot as u64)?;
        put(&mut w, CMD_INDEX, self.index as u64)?;
        put(&mut w, CMD_FLOW_ID, self.flow_id as u64)?;
        Ok(w)
    }

    /// Decodes a command word.
    pub fn decode(value: u64) -> Result<Command, DecodeError> {
        let w = [value];
        let op = CMD_OP.get(&w) as u8;
        Ok(Command {
            op: Op::from_u8(op).ok_or(DecodeError::BadOp { value, op })?,
            slot: CMD_SLOT.get(&w) as u8,
            index: CMD_INDEX.get(&w) as u32,
            flow_id: CMD_FLOW_ID.get(&w) as u32,
        })
    }
}

/// Where a lookup was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HitKind {
    /// Neither table matched; the key went to the miss queue.
    Miss = 0,
    /// Exact-match cache hit.
    Emc = 1,
    /// Megaflow hit.
    Megaflow = 2,
}

/// A decoded lookup result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LookupResult {
    /// Which table hit.
    pub kind: HitKind,
    /// Mask slot (megaflow hits; 0 otherwise).
    pub slot: u8,
    /// Entry index (0 on a miss).
    pub index: u32,
    /// Flow id (0 on a miss).
    pub flow_id: u32,
}

impl LookupResult {
    /// A miss.
    pub const MISS: LookupResult = LookupResult {
        kind: HitKind::Miss,
        slot: 0,
        index: 0,
        flow_id: 0,
    };

    /// Encodes the result word.
    pub fn encode(&self) -> Result<u64, DecodeError> {
        let mut w = 0;
        put(&mut w, RESULT_KIND, self.kind as u64)?;
        put(&mut w, RESULT_SLOT, self.slot as u64)?;
        put(&mut w, RESULT_INDEX, self.index as u64)?;
        put(&mut w, RESULT_FLOW_ID, self.flow_id as u64)?;
        Ok(w)
    }

    /// Decodes a result word.
    pub fn decode(value: u64) -> Result<LookupResult, DecodeError> {
        let w = [value];
        let kind = match RESULT_KIND.get(&w) {
            0 => HitKind::Miss,
            1 => HitKind::Emc,
            2 => HitKind::Megaflow,
            _ => return Err(DecodeError::BadKind(value)),
        };
        Ok(LookupResult {
            kind,
            slot: RESULT_SLOT.get(&w) as u8,
            index: RESULT_INDEX.get(&w) as u32,
            flow_id: RESULT_FLOW_ID.get(&w) as u32,
        })
    }
}

/// Which entry's statistics to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatsSel {
    /// false: EMC, true: megaflow.
    pub megaflow: bool,
    /// Mask slot.
    pub slot: u8,
    /// Entry index.
    pub index: u32,
}

impl StatsSel {
    /// Encodes the selector.
    pub fn encode(&self) -> Result<u64, DecodeError> {
        let mut w = 0;
        put(&mut w, STATS_TABLE, self.megaflow as u64)?;
        put(&mut w, STATS_SLOT, self.slot as u64)?;
        put(&mut w, STATS_INDEX, self.index as u64)?;
        Ok(w)
    }
}

/// Constant registers of a window ([`Capability::constant_words`]).
pub const CONST_WORDS: usize = 7 + LAYOUT.len() + 1;

/// The capability block, as read from [`REG_ID`]..=[`REG_CAP_CLOCK`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capability {
    /// ABI major version.
    pub abi_major: u16,
    /// ABI minor version.
    pub abi_minor: u16,
    /// Key width in words.
    pub key_words: u8,
    /// Hash identifier.
    pub hash_id: u8,
    /// Lookup latency in cycles.
    pub latency: u8,
    /// Flow id width.
    pub flow_id_bits: u8,
    /// Entry index width.
    pub index_bits: u8,
    /// Per-entry counter width.
    pub counter_bits: u8,
    /// EMC ways.
    pub emc_ways: u8,
    /// Table geometry.
    pub geometry: Geometry,
    /// Clock in kHz (0: unknown).
    pub clock_khz: u32,
    /// MAC ports the packet path carries (0: look-aside).
    pub mac_ports: u8,
    /// The action stage does VLAN push/pop.
    pub action_vlan: bool,
    /// The action stage rewrites Ethernet addresses (edit table).
    pub action_eth: bool,
}

/// Why a capability block is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CapabilityError {
    /// The ID register does not hold [`MAGIC`]: not a fastpath device.
    #[error("ID register reads {0:#018x}: no fastpath magic 0x46504154 (\"FPAT\") in bits 63..32; this is not a fastpath pipeline")]
    BadMagic(u64),
    /// Unsupported major version.
    #[error("device speaks ABI {device_major}.{device_minor}, this software speaks {ours}.x")]
    Version {
        /// Device's major.
        device_major: u16,
        /// Device's minor.
        device_minor: u16,
        /// Ours.
        ours: u16,
    },
    /// A capability does not match this software.
    #[error("capability {field} = {value}, expected {expected}")]
    Mismatch {
        /// Capability name.
        field: &'static str,
        /// Device value.
        value: u64,
        /// What we support.
        expected: String,
    },
    /// Geometry outside the supported range.
    #[error("device geometry: {0}")]
    Geometry(#[from] GeometryError),
}

impl Capability {
    /// The block a build with `geometry` and `latency` announces.
    pub fn new(geometry: Geometry, latency: u8, clock_khz: u32) -> Self {
        Capability {
            abi_major: crate::ABI_MAJOR,
            abi_minor: crate::ABI_MINOR,
            key_words: HW_KEY_WORDS as u8,
            hash_id: crate::HASH_ID_CRC32C,
            latency,
            flow_id_bits: FLOW_ID_BITS,
            index_bits: INDEX_BITS,
            counter_bits: COUNTER_BITS,
            emc_ways: EMC_WAYS,
            geometry,
            clock_khz,
            mac_ports: 0,
            action_vlan: false,
            action_eth: false,
        }
    }

    /// The block of a build with a packet path of `mac_ports` MAC ports.
    pub fn with_packet_path(mut self, mac_ports: u8, action_vlan: bool) -> Self {
        self.mac_ports = mac_ports;
        self.action_vlan = action_vlan;
        self
    }

    /// The block of a build whose action stage has the edit table and
    /// rewrites Ethernet addresses.
    pub fn with_eth_edit(mut self, on: bool) -> Self {
        self.action_eth = on;
        self
    }

    /// The blocks a build announcing `self` chains: all of [`LAYOUT`], the
    /// host queue block only with a packet path.
    pub fn chain(&self) -> Vec<BlockDecl> {
        LAYOUT
            .into_iter()
            .filter(|d| d.ty != BlockType::HostQueue || self.mac_ports > 0)
            .collect()
    }

    /// Every constant register of the window as `(window offset, value)`
    /// in the declared layout: the capability registers, each block's
    /// header, [`REG_HQ_REF`]. A block left out of the chain reads 0.
    pub fn constant_words(&self) -> [(u64, u64); CONST_WORDS] {
        let chain = self.chain();
        let mut out = [(0u64, 0u64); CONST_WORDS];
        for (o, (r, v)) in out.iter_mut().zip(self.encode()) {
            *o = (r.addr(), v);
        }
        for (i, d) in LAYOUT.iter().enumerate() {
            let pos = chain.iter().position(|c| c.ty == d.ty);
            let v = match pos {
                Some(p) => header_word(d, chain.get(p + 1).map_or(0, |n| n.base)),
                None => 0,
            };
            out[7 + i] = (d.base, v);
        }
        let mut hq = [0u64];
        if self.mac_ports > 0 {
            HQ_REF_BAR.set(&mut hq, HOSTQ_BAR as u64);
            HQ_REF_QUEUES.set(&mut hq, HOSTQ_QUEUES as u64);
            HQ_REF_OFFSET.set(&mut hq, 0);
        }
        out[7 + LAYOUT.len()] = (REG_HQ_REF.addr(), hq[0]);
        out
    }

    /// Capability register values, as `(register, value)` pairs.
    pub fn encode(&self) -> [(Reg, u64); 7] {
        let set = |fields: &[(BitField, u64)]| {
            let mut w = [0u64];
            for (f, v) in fields {
                f.set(&mut w, *v);
            }
            w[0]
        };
        let g = &self.geometry;
        [
            (
                REG_ID,
                set(&[
                    (ID_MAGIC, MAGIC as u64),
                    (ID_MAJOR, self.abi_major as u64),
                    (ID_MINOR, self.abi_minor as u64),
                ]),
            ),
            (
                REG_CAP_KEY,
                set(&[
                    (CAP_KEY_WORDS, self.key_words as u64),
                    (CAP_HASH_ID, self.hash_id as u64),
                    (CAP_LATENCY, self.latency as u64),
                    (CAP_FLOW_ID_BITS, self.flow_id_bits as u64),
                    (CAP_INDEX_BITS, self.index_bits as u64),
                    (CAP_COUNTER_BITS, self.counter_bits as u64),
                ]),
            ),
            (
                REG_CAP_EMC,
                set(&[
                    (CAP_EMC_LOG2_ENTRIES, g.emc_log2_entries as u64),
                    (CAP_EMC_WAYS, self.emc_ways as u64),
                ]),
            ),
            (
                REG_CAP_MF,
                set(&[
                    (CAP_MF_SLOTS, g.mf_slots as u64),
                    (CAP_MF_LOG2_BUCKETS, g.mf_log2_buckets as u64),
                    (CAP_MF_BUCKET_SLOTS, g.mf_bucket_slots as u64),
                ]),
            ),
            (
                REG_CAP_MISSQ,
                set(&[(CAP_MISSQ_LOG2_DEPTH, g.missq_log2_depth as u64)]),
            ),
            (
                REG_CAP_CLOCK,
                set(&[(CAP_CLOCK_KHZ, self.clock_khz as u64)]),
            ),
            (
                REG_CAP_ACTIONS,
                set(&[
                    (CAP_MAC_PORTS, self.mac_ports as u64),
                    (CAP_ACT_VLAN, self.action_vlan as u64),
                    (CAP_ACT_ETH, self.action_eth as u64),
                ]),
            ),
        ]
    }

    /// Decodes the block from a register reader and checks that this
    /// software can drive the device: magic, major version, key width, hash,
    /// encodings and geometry ranges. Errors name the offending capability.
    pub fn decode<E>(
        mut read: impl FnMut(Reg) -> Result<u64, E>,
    ) -> Result<Result<Capability, CapabilityError>, E> {
        let id = read(REG_ID)?;
        let key = [read(REG_CAP_KEY)?];
        let emc = [read(REG_CAP_EMC)?];
        let mf = [read(REG_CAP_MF)?];
        let mq = [read(REG_CAP_MISSQ)?];
        let clk = [read(REG_CAP_CLOCK)?];
        let act = [read(REG_CAP_ACTIONS)?];
        let idw = [id];
        if ID_MAGIC.get(&idw) as u32 != MAGIC {
            return Ok(Err(CapabilityError::BadMagic(id)));
        }
        let cap = Capability {
            abi_major: ID_MAJOR.get(&idw) as u16,
            abi_minor: ID_MINOR.get(&idw) as u16,
            key_words: CAP_KEY_WORDS.get(&key) as u8,
            hash_id: CAP_HASH_ID.get(&key) as u8,
            latency: CAP_LATENCY.get(&key) as u8,
            flow_id_bits: CAP_FLOW_ID_BITS.get(&key) as u8,
            index_bits: CAP_INDEX_BITS.get(&key) as u8,
            counter_bits: CAP_COUNTER_BITS.get(&key) as u8,
            emc_ways: CAP_EMC_WAYS.get(&emc) as u8,
            geometry: Geometry {
                emc_log2_entries: CAP_EMC_LOG2_ENTRIES.get(&emc) as u8,
                mf_slots: CAP_MF_SLOTS.get(&mf) as u8,
                mf_log2_buckets: CAP_MF_LOG2_BUCKETS.get(&mf) as u8,
                mf_bucket_slots: CAP_MF_BUCKET_SLOTS.get(&mf) as u8,
                missq_log2_depth: CAP_MISSQ_LOG2_DEPTH.get(&mq) as u8,
            },
            clock_khz: CAP_CLOCK_KHZ.get(&clk) as u32,
            mac_ports: CAP_MAC_PORTS.get(&act) as u8,
            action_vlan: CAP_ACT_VLAN.get(&act) != 0,
            action_eth: CAP_ACT_ETH.get(&act) != 0,
        };
        Ok(cap.check())
    }

    /// Checks the block against what this software supports.
    pub fn check(self) -> Result<Capability, CapabilityError> {
        if self.abi_major != crate::ABI_MAJOR {
            return Err(CapabilityError::Version {
                device_major: self.abi_major,
                device_minor: self.abi_minor,
                ours: crate::ABI_MAJOR,
            });
        }
        let exact: [(&'static str, u64, u64); 6] = [
            ("key_words", self.key_words as u64, HW_KEY_WORDS as u64),
            ("hash_id", self.hash_id as u64, crate::HASH_ID_CRC32C as u64),
            (
                "flow_id_bits",
                self.flow_id_bits as u64,
                FLOW_ID_BITS as u64,
            ),
            ("index_bits", self.index_bits as u64, INDEX_BITS as u64),
            (
                "counter_bits",
                self.counter_bits as u64,
                COUNTER_BITS as u64,
            ),
            ("emc_ways", self.emc_ways as u64, EMC_WAYS as u64),
        ];
        for (field, value, want) in exact {
            if value != want {
                return Err(CapabilityError::Mismatch {
                    field,
                    value,
                    expected: want.to_string(),
                });
            }
        }
        if self.mac_ports as usize > crate::action::MAX_MAC_PORTS {
            return Err(CapabilityError::Mismatch {
                field: "mac_ports",
                value: self.mac_ports as u64,
                expected: format!("at most {}", crate::action::MAX_MAC_PORTS),
            });
        }
        self.geometry.validate()?;
        Ok(self)
    }
}

/// Every layout table in this module, for documentation and tests.
pub const ALL_LAYOUTS: &[(&str, &[BitField])] = &[
    ("ID", ID_FIELDS),
    ("CAP_KEY", CAP_KEY_FIELDS),
    ("CAP_EMC", CAP_EMC_FIELDS),
    ("CAP_MF", CAP_MF_FIELDS),
    ("CAP_MISSQ", CAP_MISSQ_FIELDS),
    ("CAP_CLOCK", CAP_CLOCK_FIELDS),
    ("CAP_ACTIONS", CAP_ACTIONS_FIELDS),
    ("CTRL", CTRL_FIELDS),
    ("STATUS", STATUS_FIELDS),
    ("BLK_HDR", BLK_HDR_FIELDS),
    ("HQ_REF", HQ_REF_FIELDS),
    ("CMD", CMD_FIELDS),
    ("RESULT", RESULT_FIELDS),
    ("STATS_SEL", STATS_SEL_FIELDS),
    ("MISS_META", MISS_META_FIELDS),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::check_layout;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn layouts_are_sound() {
        for (name, t) in ALL_LAYOUTS {
            check_layout(t, 1, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn hostq_block_is_sound() {
        for (name, t) in HOSTQ_LAYOUTS {
            check_layout(t, 1, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let mut offs: Vec<u64> = HOSTQ_REGISTERS.iter().map(|r| r.1).collect();
        offs.dedup();
        assert_eq!(offs.len(), HOSTQ_REGISTERS.len());
        assert!(offs.iter().all(|o| o % 8 == 0 && *o < HOSTQ_STRIDE));
        assert!(HOSTQ_QUEUES as u64 * HOSTQ_STRIDE <= HOSTQ_WINDOW_BYTES);
    }

    #[test]
    fn register_offsets_are_aligned_and_distinct() {
        let mut regs = Vec::new();
        for (name, off) in REGISTERS {
            let n = if KEY_ARRAY_REGISTERS.contains(name) {
                HW_KEY_WORDS as u64
            } else {
                1
            };
            for i in 0..n {
                let w = off.word(i as usize);
                assert!(
                    w.off >= 8 && w.off < w.block.decl().size,
                    "{name} outside its block"
                );
                regs.push(w.addr());
            }
        }
        regs.extend(LAYOUT.iter().map(|d| d.base));
        let n = regs.len();
        regs.sort();
        regs.dedup();
        assert_eq!(regs.len(), n, "two registers share an offset");
        assert!(regs.iter().all(|r| r % 8 == 0 && *r < REG_WINDOW_BYTES));
    }

    fn window(cap: &Capability) -> HashMap<u64, u64> {
        cap.constant_words().into_iter().collect()
    }

    fn walk(w: &HashMap<u64, u64>) -> Result<Blocks, BlockError> {
        Blocks::walk(REG_WINDOW_BYTES, |a| Ok::<_, ()>(*w.get(&a).unwrap_or(&0))).unwrap()
    }

    #[test]
    fn layout_is_indexed_by_type_and_disjoint() {
        for (i, d) in LAYOUT.iter().enumerate() {
            assert_eq!(d.ty as usize - 1, i, "LAYOUT order");
            assert_eq!(d.ty.decl(), d);
            assert_eq!(d.base % 8, 0);
            assert!(d.base + d.size <= REG_WINDOW_BYTES);
            if let Some(n) = LAYOUT.get(i + 1) {
                assert!(d.base + d.size <= n.base, "{} overlaps", d.ty.name());
            }
        }
    }

    #[test]
    fn chain_names_every_declared_base() {
        for mac_ports in [0, 2] {
            let cap = Capability::new(Geometry::DEFAULT, 9, 0).with_packet_path(mac_ports, false);
            let b = walk(&window(&cap)).unwrap();
            let want = cap.chain();
            assert_eq!(b.list.len(), want.len());
            for (f, d) in b.list.iter().zip(&want) {
                assert_eq!((f.ty, f.base, f.size), (Some(d.ty), d.base, d.size));
                assert_eq!(b.find(d.ty).unwrap().base, d.ty.decl().base);
            }
            assert_eq!(b.find(BlockType::HostQueue).is_ok(), mac_ports > 0);
        }
    }

    #[test]
    fn bad_chains_give_their_errors() {
        let cap = Capability::new(Geometry::DEFAULT, 9, 0);
        let ctl = BlockType::Control.decl();
        let stats = BlockType::Stats.decl();
        let mut w = window(&cap);
        w.insert(stats.base, header_word(stats, ctl.base));
        assert_eq!(
            walk(&w),
            Err(BlockError::Loop {
                from: stats.base,
                to: ctl.base
            })
        );
        let mut w = window(&cap);
        w.insert(stats.base, header_word(stats, REG_WINDOW_BYTES));
        assert!(matches!(walk(&w), Err(BlockError::OutOfWindow { .. })));
        let mut w = window(&cap);
        w.insert(0, u64::MAX);
        assert_eq!(walk(&w), Err(BlockError::NotFastpath(u64::MAX)));
        let mut w = window(&cap);
        w.insert(ctl.base, header_word(ctl, BlockType::MissQueue.decl().base));
        let b = walk(&w).unwrap();
        assert!(matches!(
            b.find(BlockType::Table),
            Err(BlockError::Missing {
                ty: BlockType::Table,
                ..
            })
        ));
        let newer = BlockDecl {
            major: ctl.major + 1,
            ..*ctl
        };
        let mut w = window(&cap);
        w.insert(ctl.base, header_word(&newer, BlockType::Table.decl().base));
        match walk(&w).unwrap().find(BlockType::Control) {
            Err(e @ BlockError::Version { .. }) => {
                assert!(
                    e.to_string()
                        .contains("version 2.0, this software drives 1.x"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn capability_round_trips_and_rejects() {
        let cap = Capability::new(Geometry::DEFAULT, 9, 250_000);
        let regs: HashMap<Reg, u64> = cap.encode().into_iter().collect();
        let read = |r: Reg| -> Result<u64, ()> { Ok(*regs.get(&r).unwrap_or(&0)) };
        assert_eq!(Capability::decode(read).unwrap().unwrap(), cap);

        let mut bad = regs.clone();
        bad.insert(REG_ID, 0x1234_11e8_0000_0000);
        let r = Capability::decode(|r| Ok::<_, ()>(bad[&r])).unwrap();
        assert!(matches!(r, Err(CapabilityError::BadMagic(_))));

        let mut c2 = cap;
        c2.abi_major = crate::ABI_MAJOR + 1;
        assert!(matches!(c2.check(), Err(CapabilityError::Version { .. })));
        let mut c3 = cap;
        c3.hash_id = 7;
        match c3.check() {
            Err(CapabilityError::Mismatch { field, .. }) => assert_eq!(field, "hash_id"),
            other => panic!("{other:?}"),
        }
        let c5 = cap.with_packet_path(17, false);
        match c5.check() {
            Err(CapabilityError::Mismatch { field, .. }) => assert_eq!(field, "mac_ports"),
            other => panic!("{other:?}"),
        }
        let c6 = cap.with_packet_path(2, true).with_eth_edit(true);
        let regs6: HashMap<Reg, u64> = c6.encode().into_iter().collect();
        let read6 = |r: Reg| -> Result<u64, ()> { Ok(*regs6.get(&r).unwrap_or(&0)) };
        assert_eq!(Capability::decode(read6).unwrap().unwrap(), c6);
        let mut c4 = cap;
        c4.geometry.mf_bucket_slots = 9;
        assert!(matches!(c4.check(), Err(CapabilityError::Geometry(_))));
    }

    #[test]
    fn too_wide_fields_are_refused() {
        let c = Command {
            op: Op::MfWrite,
            slot: 1,
            index: 1 << 24,
            flow_id: 0,
        };
        assert!(matches!(
            c.encode(),
            Err(DecodeError::TooWide {
                field: "CMD_INDEX",
                ..
            })
        ));
        assert!(matches!(
            Command::decode(0xff),
            Err(DecodeError::BadOp { op: 0xff, .. })
        ));
        assert!(matches!(
            LookupResult::decode(3),
            Err(DecodeError::BadKind(3))
        ));
    }

    proptest! {
        #[test]
        fn command_round_trips(op in 0u8..7, slot in any::<u8>(), index in 0u32..(1 << 24), flow in 0u32..(1 << 24)) {
            let c = Command { op: Op::from_u8(op).unwrap(), slot, index, flow_id: flow };
            let w = c.encode().unwrap();
            prop_assert_eq!(Command::decode(w).unwrap(), c);
            // The bitvec reference path reads the same fields.
            prop_assert_eq!(CMD_INDEX.load_bitvec(&[w]), index as u64);
            prop_assert_eq!(CMD_FLOW_ID.load_bitvec(&[w]), flow as u64);
        }

        #[test]
        fn result_round_trips(kind in 0u8..3, slot in any::<u8>(), index in 0u32..(1 << 24), flow in 0u32..(1 << 24)) {
            let kind = [HitKind::Miss, HitKind::Emc, HitKind::Megaflow][kind as usize];
            let r = LookupResult { kind, slot, index, flow_id: flow };
            prop_assert_eq!(LookupResult::decode(r.encode().unwrap()).unwrap(), r);
        }
    }
}
