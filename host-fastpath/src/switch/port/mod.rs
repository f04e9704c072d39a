//! Switch ports: where bursts come from and output frames go.
//!
//! A [`Port`] hands the switch loop up to [`BURST`] received frames at a
//! time, borrowed from wherever they were received (the AF_PACKET ring, a
//! pcap buffer), and sends the frames the datapath queued for it in one
//! batch ([`TxQueue`]). Every frame a port could not receive or send is
//! counted in its [`PortStats`].

pub mod af_packet;
pub mod af_xdp;
pub mod pcap;

use crate::ofproto::port::OFPP_MAX;
use crate::BURST;
use serde::Serialize;
use std::os::fd::RawFd;

/// Errors opening or driving a port.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A `--port` / `port-add` argument did not parse.
    #[error("port `{spec}`: {msg}")]
    Spec {
        /// The argument.
        spec: String,
        /// What is wrong.
        msg: String,
    },
    /// A system call on an AF_PACKET or AF_XDP socket failed.
    #[error("{iface}: {step}: {source}")]
    Sys {
        /// Interface.
        iface: String,
        /// What was being done.
        step: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// A pcap file could not be read or written.
    #[error(transparent)]
    Pcap(#[from] crate::io::pcap::PcapError),
}

/// What a port is, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PortKind {
    /// An AF_PACKET socket with a TPACKET_V3 receive ring on `iface`.
    AfPacket {
        /// Interface name.
        iface: String,
    },
    /// An AF_XDP socket on queue 0 of `iface`, with its UMEM and rings.
    AfXdp {
        /// Interface name.
        iface: String,
    },
    /// Frames read from `input` (if any) and written to `output` (if any).
    Pcap {
        /// Input pcap file.
        input: Option<String>,
        /// Output pcap file.
        output: Option<String>,
    },
}

impl std::fmt::Display for PortKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortKind::AfPacket { iface } => write!(f, "af_packet:{iface}"),
            PortKind::AfXdp { iface } => write!(f, "af_xdp:{iface}"),
            PortKind::Pcap { input, output } => write!(
                f,
                "pcap:{}{}",
                input.as_deref().unwrap_or(""),
                output
                    .as_deref()
                    .map(|o| format!(",{o}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// One `--port` argument: `NAME=TYPE:ARGS[,ofport=N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// Port name (as OVS's interface name).
    pub name: String,
    /// What it is.
    pub kind: PortKind,
    /// Requested OpenFlow port number (OVS `ofport_request`).
    pub ofport: Option<u32>,
}

impl std::str::FromStr for PortSpec {
    type Err = PortError;
    fn from_str(s: &str) -> Result<Self, PortError> {
        let err = |msg: String| PortError::Spec {
            spec: s.to_string(),
            msg,
        };
        let (name, rest) = s
            .split_once('=')
            .ok_or_else(|| err("expected NAME=TYPE:ARGS (e.g. p1=af_packet:veth0)".into()))?;
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(err(format!(
                "bad name `{name}`: 1 to 32 letters, digits, `_`, `-` or `.`"
            )));
        }
        // Options come last: `,ofport=N`.
        let mut ofport = None;
        let mut body = rest;
        while let Some(p) = body.rfind(',') {
            let opt = &body[p + 1..];
            let Some(v) = opt.strip_prefix("ofport=") else {
                break;
            };
            let n: u32 = v
                .parse()
                .map_err(|_| err(format!("ofport `{v}` is not a number")))?;
            if n == 0 || n >= OFPP_MAX {
                return Err(err(format!("ofport {n} is outside 1..{}", OFPP_MAX - 1)));
            }
            if ofport.replace(n).is_some() {
                return Err(err("ofport given twice".into()));
            }
            body = &body[..p];
        }
        let (ty, args) = body
            .split_once(':')
            .ok_or_else(|| err(format!("expected TYPE:ARGS after `{name}=`")))?;
        let kind = match ty {
            "af_packet" | "af_xdp" => {
                if args.is_empty() || args.len() > 15 || args.contains(['/', ',', ' ']) {
                    return Err(err(format!(
                        "bad interface name `{args}` (1 to 15 characters, no `/`, `,` or space)"
                    )));
                }
                let iface = args.to_string();
                if ty == "af_xdp" {
                    PortKind::AfXdp { iface }
                } else {
                    PortKind::AfPacket { iface }
                }
            }
            "pcap" => {
                let (i, o) = match args.split_once(',') {
                    Some((i, o)) => (i, Some(o)),
                    None => (args, None),
                };
                let input = (!i.is_empty()).then(|| i.to_string());
                let output = o.filter(|o| !o.is_empty()).map(str::to_string);
                if input.is_none() && output.is_none() {
                    return Err(err("pcap needs IN, IN,OUT or ,OUT".into()));
                }
                PortKind::Pcap { input, output }
            }
            other => {
                return Err(err(format!(
                    "unknown port type `{other}` (expected af_xdp, af_packet or pcap)"
                )))
            }
        };
        Ok(PortSpec {
            name: name.to_string(),
            kind,
            ofport,
        })
    }
}

/// Counters of one port, as `ovs-ofctl dump-ports` names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PortStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames the kernel dropped before the switch saw them (ring full).
    pub rx_dropped: u64,
    /// Frames received truncated (longer than the ring's block).
    pub rx_errors: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames not sent because the device queue was full.
    pub tx_dropped: u64,
    /// Frames not sent for another reason (too long for the MTU, link down).
    pub tx_errors: u64,
    /// Receive or send attempts that found the link down.
    pub link_down: u64,
}

/// Frames queued for one port during a burst, sent together.
#[derive(Default, Debug)]
pub struct TxQueue {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl TxQueue {
    /// An empty queue with room for a burst of full-size frames.
    pub fn new() -> Self {
        TxQueue {
            buf: Vec::with_capacity(BURST * 2048),
            ends: Vec::with_capacity(BURST),
        }
    }

    /// Queues a copy of `frame` (the received frame's buffer is given back
    /// to the kernel before the queue is sent).
    #[inline]
    pub fn push(&mut self, frame: &[u8]) {
        self.buf.extend_from_slice(frame);
        self.ends.push(self.buf.len());
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The queued frames, in order.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&e| {
            let f = &self.buf[start..e];
            start = e;
            f
        })
    }

    /// Empties the queue (keeping its memory).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
}

/// A switch port (one queue of it with several packet threads).
pub trait Port: Send {
    /// Hands up to [`BURST`] received frames to `f` (borrowed: they are
    /// valid only during the call) and returns how many. 0: nothing waiting.
    fn recv(&mut self, f: &mut dyn FnMut(&[&[u8]])) -> usize;
    /// Sends the frames in `q` and empties it; what could not be sent is
    /// counted in [`Port::stats`].
    fn send(&mut self, q: &mut TxQueue);
    /// A descriptor that becomes readable when frames arrive (None: the
    /// port never waits, e.g. a pcap file not read to its end).
    fn poll_fd(&self) -> Option<RawFd>;
    /// Whether the port will never receive again (a pcap file read to its end).
    fn exhausted(&self) -> bool {
        false
    }
    /// Called when [`Port::poll_fd`] reported an error (the interface went
    /// down or away): clears and counts it.
    fn poll_error(&mut self) {}
    /// How the port is attached, where it has a choice (None: it has not).
    fn mode(&self) -> Option<&'static str> {
        None
    }
    /// Counters (kernel drop counters are read now).
    fn stats(&mut self) -> PortStats;
    /// Flushes buffered output (pcap files); called when the port is removed
    /// or the switch stops.
    fn close(&mut self) -> Result<(), PortError> {
        Ok(())
    }
}

/// Opens the port `kind` names with one queue per packet thread
/// (`threads`): AF_PACKET sockets in one hash fanout group, AF_XDP sockets
/// on interface queues 0..threads, pcap shares split by flow hash. Queue
/// `i` is received and sent on by thread `i` only.
pub fn open_queues(kind: &PortKind, threads: usize) -> Result<Vec<Box<dyn Port>>, PortError> {
    if threads <= 1 {
        return Ok(vec![open(kind)?]);
    }
    fn boxed<P: Port + 'static>(v: Vec<P>) -> Vec<Box<dyn Port>> {
        v.into_iter()
            .map(|p| Box::new(p) as Box<dyn Port>)
            .collect()
    }
    Ok(match kind {
        PortKind::AfPacket { iface } => {
            boxed(af_packet::AfPacketPort::open_fanout(iface, threads)?)
        }
        PortKind::AfXdp { iface } => boxed(af_xdp::AfXdpPort::open_queues(iface, threads)?),
        PortKind::Pcap { input, output } => boxed(pcap::PcapPort::open_shares(
            input.as_deref().map(std::path::Path::new),
            output.as_deref().map(std::path::Path::new),
            threads,
        )?),
    })
}

/// Opens the port `kind` names.
pub fn open(kind: &PortKind) -> Result<Box<dyn Port>, PortError> {
    Ok(match kind {
        PortKind::AfPacket { iface } => Box::new(af_packet::AfPacketPort::open(iface)?),
        PortKind::AfXdp { iface } => Box::new(af_xdp::AfXdpPort::open(iface)?),
        PortKind::Pcap { input, output } => Box::new(pcap::PcapPort::open(
            input.as_deref().map(std::path::Path::new),
            output.as_deref().map(std::path::Path::new),
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs_parse() {
        let p: PortSpec = "p1=af_packet:veth0".parse().unwrap();
        assert_eq!(
            p.kind,
            PortKind::AfPacket {
                iface: "veth0".into()
            }
        );
        assert_eq!(p.ofport, None);
        let p: PortSpec = "x=af_xdp:veth1,ofport=3".parse().unwrap();
        assert_eq!(
            p.kind,
            PortKind::AfXdp {
                iface: "veth1".into()
            }
        );
        assert_eq!(p.kind.to_string(), "af_xdp:veth1");
        let p: PortSpec = "up=pcap:in.pcap,out.pcap,ofport=7".parse().unwrap();
        assert_eq!(p.name, "up");
        assert_eq!(p.ofport, Some(7));
        assert_eq!(
            p.kind,
            PortKind::Pcap {
                input: Some("in.pcap".into()),
                output: Some("out.pcap".into())
            }
        );
        assert_eq!(p.kind.to_string(), "pcap:in.pcap,out.pcap");
        let p: PortSpec = "o=pcap:,out.pcap".parse().unwrap();
        assert_eq!(
            p.kind,
            PortKind::Pcap {
                input: None,
                output: Some("out.pcap".into())
            }
        );
        for bad in [
            "p1",
            "=af_packet:x",
            "p1=af_packet:",
            "p1=af_xdp:",
            "p1=af_xdp:averylonginterfacename",
            "p1=af_packet:averylonginterfacename",
            "p1=tap:x",
            "p1=pcap:",
            "p1=pcap:,",
            "p1=af_packet:x,ofport=0",
            "p1=af_packet:x,ofport=65280",
            "p1=af_packet:x,ofport=two",
            "p1=af_packet:x,ofport=1,ofport=2",
            "p 1=af_packet:x",
        ] {
            let e = bad.parse::<PortSpec>().unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn tx_queue_keeps_frames_in_order() {
        let mut q = TxQueue::new();
        q.push(&[1, 2, 3]);
        q.push(&[]);
        q.push(&[4]);
        let v: Vec<&[u8]> = q.frames().collect();
        assert_eq!(v, vec![&[1u8, 2, 3][..], &[][..], &[4][..]]);
        q.clear();
        assert!(q.is_empty());
    }
}
