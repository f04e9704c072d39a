//! Block RAM with one write port and one synchronous read port, sized at
//! elaboration time.
//!
//! rust-hdl's own `RAM` fixes its depth with a const generic; table depths
//! here come from the geometry file, so this leaf takes the depth as a value
//! and writes the inference template itself. Read-first: a read and a write
//! of the same address in one cycle return the old word (the simulation
//! model below does the same), which the pipeline relies on when it forwards
//! counter updates.

use rust_hdl::prelude::*;

/// Width of every RAM address port (enough for any ABI geometry: indexes are
/// [`abi::regs::INDEX_BITS`] wide).
pub const ADDR_BITS: usize = abi::regs::INDEX_BITS as usize;

/// A `depth` × `D` RAM: reads registered, writes on the same clock.
#[derive(LogicBlock)]
pub struct Bram<D: Synth> {
    /// Clock of both ports.
    pub clock: Signal<In, Clock>,
    /// Read address (bits above the depth are ignored; out of range reads 0).
    pub raddr: Signal<In, Bits<ADDR_BITS>>,
    /// Word at `raddr`, one cycle later.
    pub rdata: Signal<Out, D>,
    /// Write address.
    pub waddr: Signal<In, Bits<ADDR_BITS>>,
    /// Word to write.
    pub wdata: Signal<In, D>,
    /// Write strobe.
    pub we: Signal<In, bool>,
    // Words, allocated on the first simulated clock: emitting Verilog needs
    // only the depth, and a board-size table is hundreds of MB of `Bits`.
    _mem: Vec<D>,
    _depth: usize,
    _checked: bool,
}

impl<D: Synth> Bram<D> {
    /// A RAM of `depth` words, all zero (tables start invalid); reads of an
    /// address at or beyond `depth` return 0 (the host may select any entry).
    pub fn new(depth: usize) -> Self {
        Self::build(depth, true)
    }

    /// A power-of-two RAM whose readers only present in-range addresses
    /// (masked hash bits, wrapped queue pointers): the read path has no
    /// range comparator, which is the critical path of a FIFO otherwise.
    pub fn new_pow2(depth: usize) -> Self {
        assert!(
            depth.is_power_of_two(),
            "RAM depth {depth} is not a power of two"
        );
        Self::build(depth, false)
    }

    fn build(depth: usize, checked: bool) -> Self {
        assert!((1..1 << ADDR_BITS).contains(&depth), "RAM depth {depth}");
        Bram {
            clock: Default::default(),
            raddr: Default::default(),
            rdata: Default::default(),
            waddr: Default::default(),
            wdata: Default::default(),
            we: Default::default(),
            _mem: Vec::new(),
            _depth: depth,
            _checked: checked,
        }
    }

    fn abits(&self) -> usize {
        (usize::BITS - (self._depth - 1).leading_zeros()).max(1) as usize
    }
}

impl<D: Synth> Logic for Bram<D> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if self._mem.is_empty() {
                self._mem = vec![D::default(); self._depth];
            }
            let mut r = self.raddr.val().index();
            if !self._checked {
                r &= self._mem.len() - 1;
            }
            self.rdata.next = self._mem.get(r).copied().unwrap_or_default();
            if self.we.val() {
                let w = self.waddr.val().index();
                if let Some(slot) = self._mem.get_mut(w) {
                    *slot = self.wdata.val();
                }
            }
        }
    }

    fn connect(&mut self) {
        self.rdata.connect();
    }

    fn hdl(&self) -> Verilog {
        let depth = self._depth;
        let ab = self.abits();
        let w = D::BITS;
        // The range checks vanish when depth is a power of two and the
        // address is full width; they keep out-of-range reads defined (0).
        let read = if self._checked {
            format!(
                "    if (raddr < {ADDR_BITS}'d{depth})\n        rdata <= mem[raddr[{amsb}:0]];\n    else\n        rdata <= {w}'d0;",
                amsb = ab - 1
            )
        } else {
            format!("    rdata <= mem[raddr[{}:0]];", ab - 1)
        };
        Verilog::Custom(format!(
            "\
/* verilator lint_off UNUSEDSIGNAL */
reg [{msb}:0] mem [0:{last}];
integer i;
initial begin
    for (i = 0; i < {depth}; i = i + 1) mem[i] = {w}'d0;
end
always @(posedge clock) begin
{read}
    if (we && waddr < {ADDR_BITS}'d{depth})
        mem[waddr[{amsb}:0]] <= wdata;
end
/* verilator lint_on UNUSEDSIGNAL */
",
            msb = w - 1,
            last = depth - 1,
            amsb = ab - 1,
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "bram".into(),
            clock: "clock".into(),
            inputs: vec!["raddr".into(), "waddr".into(), "wdata".into(), "we".into()],
            outputs: vec!["rdata".into()],
        }]
    }
}
