//! OpenFlow port numbers as `ovs-ofctl` reads and prints them.
//!
//! Ports are OpenFlow 1.0's 16-bit numbers (as Open vSwitch keeps them
//! internally); the reserved ones have names (`LOCAL`, `IN_PORT`, …).

/// Highest ordinary port number + 1 (`OFPP_MAX`; 0xff00..0xfff7 are reserved).
pub const OFPP_MAX: u32 = 0xff00;
/// `IN_PORT`: the port the packet came in on.
pub const OFPP_IN_PORT: u32 = 0xfff8;
/// `TABLE`: submit to the first table (packet-out only).
pub const OFPP_TABLE: u32 = 0xfff9;
/// `NORMAL`: traditional L2 switching.
pub const OFPP_NORMAL: u32 = 0xfffa;
/// `FLOOD`: every port but the input port and those with flooding disabled.
pub const OFPP_FLOOD: u32 = 0xfffb;
/// `ALL`: every port but the input port.
pub const OFPP_ALL: u32 = 0xfffc;
/// `CONTROLLER`.
pub const OFPP_CONTROLLER: u32 = 0xfffd;
/// `LOCAL`: the bridge's own port; also its datapath port number here.
pub const OFPP_LOCAL: u32 = 0xfffe;
/// `ANY` (also read as `NONE`): no port; a trace flow without `in_port` has
/// it, and it is never a valid output.
pub const OFPP_NONE: u32 = 0xffff;

/// Reserved port names, upper-case as `ovs-ofctl` prints them.
pub const NAMES: &[(&str, u32)] = &[
    ("IN_PORT", OFPP_IN_PORT),
    ("TABLE", OFPP_TABLE),
    ("NORMAL", OFPP_NORMAL),
    ("FLOOD", OFPP_FLOOD),
    ("ALL", OFPP_ALL),
    ("CONTROLLER", OFPP_CONTROLLER),
    ("LOCAL", OFPP_LOCAL),
    ("ANY", OFPP_NONE),
    ("NONE", OFPP_NONE),
];

/// OpenFlow 1.1+ puts the reserved ports at the top of 32 bits.
const OFPP11_OFFSET: u64 = 0xffff_0000;
const OFPP11_MAX: u64 = 0xffff_ff00;

/// Parses a port as `ovs-ofctl` does: a decimal number (an OpenFlow 1.1
/// reserved number `0xffffff00 + n` reads as `0xff00 + n`) or a reserved
/// name in any case. Numbers 65536..0xffffff00 are errors; 0xff00..0xfff7
/// are accepted here (a match may name them), outputs refuse them.
pub fn parse_port(s: &str) -> Result<u32, String> {
    if let Some(&(_, p)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Ok(p);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{s}`: unknown port (expected a decimal number or IN_PORT, LOCAL, NORMAL, FLOOD, ALL, CONTROLLER)"
        ));
    }
    let n: u64 = s
        .parse()
        .map_err(|_| format!("`{s}`: port number out of range"))?;
    match n {
        0..=0xffff => Ok(n as u32),
        OFPP11_MAX..=0xffff_ffff => Ok((n - OFPP11_OFFSET) as u32),
        _ => Err(format!(
            "`{s}`: port number outside 0 through 65535 and the reserved {OFPP11_MAX} through 4294967295"
        )),
    }
}

/// The name of a reserved port (`?` for others).
pub fn reserved_name(p: u32) -> &'static str {
    NAMES.iter().find(|x| x.1 == p).map_or("?", |x| x.0)
}

/// Prints a port as `ovs-ofctl` does (reserved ones by name, `ANY` for none).
pub fn format_port(p: u32) -> String {
    match NAMES.iter().find(|(_, v)| *v == p) {
        Some((n, _)) => (*n).to_string(),
        None => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_read_and_print_as_ovs_ofctl() {
        assert_eq!(parse_port("local"), Ok(OFPP_LOCAL));
        assert_eq!(parse_port("IN_PORT"), Ok(OFPP_IN_PORT));
        assert_eq!(parse_port("4294967294"), Ok(OFPP_LOCAL));
        assert_eq!(parse_port("65535"), Ok(OFPP_NONE));
        assert_eq!(parse_port("NONE").map(format_port).as_deref(), Ok("ANY"));
        assert_eq!(parse_port("7"), Ok(7));
        // Hex is not a port number for ovs-ofctl.
        assert!(parse_port("0xfff8").is_err());
        assert!(parse_port("70000").is_err());
        assert!(parse_port("-1").is_err());
        assert_eq!(format_port(0xfffe), "LOCAL");
        assert_eq!(format_port(65280), "65280");
    }
}
