//! Runs the *emitted* Verilog of `fastpath_top` under Icarus Verilog and
//! checks it against expectations computed from `abi` alone: installs
//! entries through AXI4-Lite, streams lookups back to back, reads counters,
//! the miss queue and per-entry statistics. This is the check that the
//! Verilog (not only rust-hdl's simulation of it) does what the ABI says.
//!
//! Skips (passes with a note) when `iverilog` is not on PATH, unless
//! `FASTPATH_REQUIRE_HDL_TOOLS=1` (CI sets it).

use abi::geometry::{cuckoo_buckets, emc_candidates};
use abi::regs::*;
use abi::{Field, FlowKey, Geometry};
use hdl::config::BuildConfig;
use hdl::top::PIPE_LATENCY;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command as Proc;

const G: Geometry = Geometry {
    emc_log2_entries: 3,
    mf_slots: 3,
    mf_log2_buckets: 2,
    mf_bucket_slots: 4,
    missq_log2_depth: 2,
};

fn have(tool: &str) -> bool {
    Proc::new(tool).arg("-V").output().is_ok()
}

fn key(port: u64, dst: u64, sport: u64) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, port)
        .with(Field::DlType, 0x0800)
        .with(Field::NwProto, 6)
        .with(Field::NwDst, dst)
        .with(Field::TpSrc, sport)
}

fn hex512(k: &FlowKey) -> String {
    let mut s = String::from("512'h");
    for w in k.words.iter().rev() {
        write!(s, "{w:016x}").unwrap();
    }
    s
}

/// Testbench statements.
struct Tb {
    body: String,
}

impl Tb {
    fn write(&mut self, addr: u64, data: u64) {
        writeln!(self.body, "    axi_write(12'h{addr:03x}, 64'h{data:016x});").unwrap();
    }
    fn read(&mut self, addr: u64) {
        writeln!(self.body, "    axi_read(12'h{addr:03x});").unwrap();
    }
    fn stage(&mut self, k: &FlowKey) {
        for (i, w) in k.words.iter().enumerate() {
            self.write(REG_STAGE_KEY.addr() + 8 * i as u64, *w);
        }
    }
    fn cmd(&mut self, op: Op, slot: u8, index: u32, flow_id: u32) {
        let c = Command {
            op,
            slot,
            index,
            flow_id,
        }
        .encode()
        .unwrap();
        self.write(REG_CMD.addr(), c);
        writeln!(self.body, "    wait_idle();").unwrap();
    }
    fn lookups(&mut self, keys: &[FlowKey], tag0: u32) {
        for (i, k) in keys.iter().enumerate() {
            writeln!(
                self.body,
                "    lookup({}, 32'h{:08x});",
                hex512(k),
                tag0 + i as u32
            )
            .unwrap();
        }
        writeln!(
            self.body,
            "    lk_valid <= 0; repeat (16) @(posedge clock);"
        )
        .unwrap();
    }
}

const HARNESS: &str = r#"
`timescale 1ns / 1ps
module tb;
    reg clock = 0, reset = 1;
    always #5 clock = ~clock;
    reg lk_valid = 0; wire lk_ready; reg [511:0] lk_key = 0; reg [31:0] lk_tag = 0;
    wire res_valid; reg res_ready = 1; wire [63:0] res_word; wire [31:0] res_tag, res_hash;
    reg [11:0] awaddr = 0, araddr = 0; reg awvalid = 0, wvalid = 0, arvalid = 0;
    reg [63:0] wdata = 0; wire awready, wready, bvalid, arready, rvalid;
    wire [1:0] bresp, rresp; wire [63:0] rdata;
    reg [63:0] cycle = 0;
    always @(posedge clock) cycle <= cycle + 1;
    fastpath_top dut(.clock(clock), .reset(reset), .lk_valid(lk_valid), .lk_ready(lk_ready),
        .lk_key(lk_key), .lk_tag(lk_tag), .res_valid(res_valid), .res_ready(res_ready),
        .res_word(res_word), .res_tag(res_tag), .res_hash(res_hash),
        .s_axil_awaddr(awaddr), .s_axil_awprot(3'd0), .s_axil_awvalid(awvalid),
        .s_axil_awready(awready), .s_axil_wdata(wdata), .s_axil_wstrb(8'hff),
        .s_axil_wvalid(wvalid), .s_axil_wready(wready), .s_axil_bresp(bresp),
        .s_axil_bvalid(bvalid), .s_axil_bready(1'b1), .s_axil_araddr(araddr),
        .s_axil_arprot(3'd0), .s_axil_arvalid(arvalid), .s_axil_arready(arready),
        .s_axil_rdata(rdata), .s_axil_rresp(rresp), .s_axil_rvalid(rvalid),
        .s_axil_rready(1'b1));
    reg [63:0] accepted_at = 0;
    always @(posedge clock) begin
        if (res_valid && res_ready) $display("RES %0d %h %h %h", cycle, res_word, res_tag, res_hash);
        if (lk_valid && lk_ready) $display("ACC %0d %h", cycle, lk_tag);
        if (lk_valid && !lk_ready) $display("STALL %0d", cycle);
    end
    task axi_write(input [11:0] a, input [63:0] d);
        begin
            @(negedge clock); awaddr = a; wdata = d; awvalid = 1; wvalid = 1;
            @(posedge clock); while (!awready) @(posedge clock);
            @(negedge clock); awvalid = 0; wvalid = 0;
            while (!bvalid) @(posedge clock);
            @(posedge clock);
        end
    endtask
    task axi_read(input [11:0] a);
        begin
            @(negedge clock); araddr = a; arvalid = 1;
            @(posedge clock); while (!arready) @(posedge clock);
            @(negedge clock); arvalid = 0;
            while (!rvalid) begin @(posedge clock); #1; end
            $display("RD %h %h", a, rdata);
            @(posedge clock);
        end
    endtask
    reg [63:0] st;
    task wait_idle;
        begin
            st = 1;
            while (st[0]) begin
                @(negedge clock); araddr = 12'h048; arvalid = 1;
                @(posedge clock); while (!arready) @(posedge clock);
                @(negedge clock); arvalid = 0;
                while (!rvalid) begin @(posedge clock); #1; end
                st = rdata;
                @(posedge clock);
            end
        end
    endtask
    task lookup(input [511:0] k, input [31:0] t);
        begin
            @(negedge clock); lk_valid = 1; lk_key = k; lk_tag = t;
            @(posedge clock);
        end
    endtask
    initial begin
        repeat (2) @(posedge clock);
        @(negedge clock); reset = 0;
        while (!lk_ready) @(posedge clock);
__BODY__
        $display("DONE");
        $finish;
    end
    initial begin #2000000; $display("TIMEOUT"); $finish; end
endmodule
"#;

#[test]
fn emitted_verilog_behaves_as_the_abi_says() {
    let required = std::env::var("FASTPATH_REQUIRE_HDL_TOOLS").is_ok_and(|v| v == "1");
    if !have("iverilog") {
        assert!(
            !required,
            "iverilog not on PATH but FASTPATH_REQUIRE_HDL_TOOLS=1"
        );
        eprintln!("skipping: iverilog not on PATH");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verilog_sim");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = BuildConfig {
        geometry: G,
        clock_khz: 0,
    };
    let files = hdl::emit::emit_all(&cfg).unwrap();
    let top = &files.iter().find(|(n, _)| n == "fastpath_top").unwrap().1;
    std::fs::write(dir.join("fastpath_top.v"), top).unwrap();

    let mut tb = Tb {
        body: String::new(),
    };
    let mask = FlowKey::ZERO
        .with(Field::InPort, u64::MAX)
        .with(Field::DlType, u64::MAX)
        .with(Field::NwDst, 0xffff_ff00);
    let k_emc = key(1, 0x0a00_0001, 10);
    let k_mf = key(2, 0x0a01_0203, 20);
    let k_mf2 = key(2, 0x0a01_02ff, 30); // same /24: same megaflow
    let k_miss = key(3, 0x0a00_0009, 40);
    let emc_pos = emc_candidates(abi::hash_key(&k_emc), G.emc_log2_entries)[0];
    let bucket = cuckoo_buckets(abi::hash_masked(&k_mf, &mask), G.mf_log2_buckets)[1];
    let mf_index = G.mf_index(bucket, 1);
    tb.stage(&k_emc);
    tb.cmd(Op::EmcWrite, 0, emc_pos, 0x123);
    tb.stage(&mask);
    tb.cmd(Op::MaskSet, 2, 0, 0);
    tb.stage(&k_mf);
    tb.cmd(Op::MfWrite, 2, mf_index, 0x456);
    let keys = [k_emc, k_mf, k_mf2, k_miss, k_emc, k_mf];
    tb.lookups(&keys, 0x100);
    for r in [
        REG_ID.addr(),
        REG_CAP_KEY.addr(),
        REG_CAP_MF.addr(),
        REG_CNT_LOOKUPS.addr(),
        REG_CNT_EMC_HITS.addr(),
        REG_CNT_MF_HITS.addr(),
        REG_CNT_MISSES.addr(),
        REG_CNT_COMMANDS.addr(),
        REG_MISSQ_LEVEL.addr(),
        REG_MISSQ_META.addr(),
        REG_MISSQ_KEY.addr() + 8 * 6,
    ] {
        tb.read(r);
    }
    tb.write(
        REG_STATS_SEL.addr(),
        StatsSel {
            megaflow: true,
            slot: 2,
            index: mf_index,
        }
        .encode()
        .unwrap(),
    );
    tb.read(REG_STATS_HITS.addr());
    // Disabling the slot stops its entries matching; clearing counters zeroes them.
    tb.cmd(Op::MaskClear, 2, 0, 0);
    tb.lookups(&[k_mf], 0x200);
    tb.write(
        REG_CTRL.addr(),
        CTRL_ENABLE.word_mask() | CTRL_CLEAR_COUNTERS.word_mask(),
    );
    tb.read(REG_CNT_MISSES.addr());

    let src = HARNESS.replace("__BODY__", &tb.body);
    std::fs::write(dir.join("tb.v"), src).unwrap();
    let vvp = dir.join("tb.vvp");
    let out = Proc::new("iverilog")
        .args(["-g2005", "-o"])
        .arg(&vvp)
        .arg(dir.join("tb.v"))
        .arg(dir.join("fastpath_top.v"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iverilog: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Proc::new("vvp").arg("-n").arg(&vvp).output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(log.contains("DONE"), "simulation did not finish:\n{log}");
    assert!(
        !log.contains("STALL"),
        "lk_ready dropped during a back-to-back burst:\n{log}"
    );

    let emc = LookupResult {
        kind: HitKind::Emc,
        slot: 0,
        index: emc_pos,
        flow_id: 0x123,
    };
    let mf = LookupResult {
        kind: HitKind::Megaflow,
        slot: 2,
        index: mf_index,
        flow_id: 0x456,
    };
    let want = [emc, mf, mf, LookupResult::MISS, emc, mf];
    let acc: Vec<u64> = log
        .lines()
        .filter_map(|l| l.strip_prefix("ACC "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let res: Vec<Vec<&str>> = log
        .lines()
        .filter_map(|l| l.strip_prefix("RES "))
        .map(|l| l.split(' ').collect())
        .collect();
    assert_eq!(res.len(), keys.len() + 1, "{log}");
    let last = u64::from_str_radix(res[keys.len()][1], 16).unwrap();
    assert_eq!(
        LookupResult::decode(last).unwrap(),
        LookupResult::MISS,
        "after MaskClear"
    );
    for (i, r) in res.iter().take(keys.len()).enumerate() {
        let cyc: u64 = r[0].parse().unwrap();
        let word = u64::from_str_radix(r[1], 16).unwrap();
        let tag = u64::from_str_radix(r[2], 16).unwrap();
        let hash = u64::from_str_radix(r[3], 16).unwrap();
        assert_eq!(
            LookupResult::decode(word).unwrap(),
            want[i],
            "lookup {i}\n{log}"
        );
        assert_eq!(tag, 0x100 + i as u64);
        assert_eq!(hash, abi::hash_key(&keys[i]) as u64, "hash {i}");
        assert_eq!(cyc - acc[i], PIPE_LATENCY as u64, "latency of lookup {i}");
    }
    let all_reads: Vec<(u64, u64)> = log
        .lines()
        .filter_map(|l| l.strip_prefix("RD "))
        .map(|l| {
            let v: Vec<&str> = l.split(' ').collect();
            (
                u64::from_str_radix(v[0], 16).unwrap(),
                u64::from_str_radix(v[1], 16).unwrap(),
            )
        })
        .collect();
    // First read of each register (a later re-read is checked separately).
    let mut reads = std::collections::HashMap::new();
    for (a, v) in &all_reads {
        reads.entry(*a).or_insert(*v);
    }
    let cap = hdl::top::FastpathTop::capability(&G, 0).constant_words();
    for (a, v) in cap
        .iter()
        .filter(|(a, _)| [REG_ID.addr(), REG_CAP_KEY.addr(), REG_CAP_MF.addr()].contains(a))
    {
        assert_eq!(reads[a], *v, "capability register {a:#x}");
    }
    assert_eq!(reads[&REG_CNT_LOOKUPS.addr()], 6);
    assert_eq!(reads[&REG_CNT_EMC_HITS.addr()], 2);
    assert_eq!(reads[&REG_CNT_MF_HITS.addr()], 3);
    assert_eq!(reads[&REG_CNT_MISSES.addr()], 1);
    assert_eq!(reads[&REG_CNT_COMMANDS.addr()], 3);
    assert_eq!(reads[&REG_MISSQ_LEVEL.addr()], 1);
    let meta = [reads[&REG_MISSQ_META.addr()]];
    assert_eq!(MISS_HASH.get(&meta), abi::hash_key(&k_miss) as u64);
    assert_eq!(MISS_TAG.get(&meta), 0x103);
    assert_eq!(reads[&(REG_MISSQ_KEY.addr() + 48)], k_miss.words[6]);
    assert_eq!(reads[&REG_STATS_HITS.addr()], 3);
    let last_misses = all_reads
        .iter()
        .rev()
        .find(|(a, _)| *a == REG_CNT_MISSES.addr())
        .unwrap()
        .1;
    assert_eq!(last_misses, 0, "CTRL.CLEAR_COUNTERS");
}
