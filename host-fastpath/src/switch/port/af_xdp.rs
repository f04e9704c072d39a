//! AF_XDP port: an XSK socket on one interface queue, its UMEM and four
//! rings, and a six-instruction XDP program that redirects the queue's
//! frames to the socket.
//!
//! Raw system calls rather than a crate: `xsk-rs` and `xdpsock` sit on
//! `libbpf-sys`/`libxdp-sys`, which build C libraries (a C toolchain,
//! libelf and zlib headers in every build) to load a program that is six
//! instructions long; `xdp` (no C code) is young, shaped by one user, and
//! still leaves the program to load. The socket itself is a handful of
//! `setsockopt`/`mmap` calls that `libc` already describes. The program is
//! assembled here ([`redirect_program`]) and loaded with `bpf(2)`, and
//! attached through a BPF link, which the kernel detaches when the port's
//! descriptors close (a crashed switch leaves no program behind).
//!
//! Receive: the kernel writes frames into UMEM chunks taken from the fill
//! ring and posts descriptors on the RX ring; the switch reads up to a
//! burst in place and gives the chunks straight back to the fill ring.
//! Transmit: the frames of a burst are copied into free chunks of the
//! transmit half of the UMEM, posted on the TX ring and sent with one kick;
//! chunks come back through the completion ring. Zero-copy binding is tried
//! first and copy mode (`XDP_COPY`, what veth offers) used when the driver
//! refuses it; the program is attached in driver mode where the driver has
//! XDP support (veth does), else in generic (skb) mode.

use super::af_packet::{getopt, interface, setopt, socket_error};
use super::{Port, PortError, PortStats, TxQueue};
use crate::BURST;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// Size of one UMEM chunk (the largest aligned chunk, a page): frames up to
/// `FRAME_SIZE - XDP_PACKET_HEADROOM` bytes.
pub const FRAME_SIZE: u32 = 4096;
/// Chunks in the UMEM (16 MiB): [`RX_RING`] for receive, the rest for transmit.
pub const NUM_FRAMES: u32 = 4096;
/// RX and fill ring entries: how many frames the kernel can hold for the
/// switch while the packet thread is descheduled (as the AF_PACKET ring).
pub const RX_RING: u32 = 2048;
/// TX and completion ring entries.
pub const TX_RING: u32 = 2048;
/// Headroom the kernel keeps in front of every received frame.
const XDP_PACKET_HEADROOM: u32 = 256;
/// Largest frame a chunk holds.
pub const MAX_FRAME: u32 = FRAME_SIZE - XDP_PACKET_HEADROOM;

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const BPF_FUNC_REDIRECT_MAP: i32 = 51;
const BPF_PSEUDO_MAP_FD: u8 = 1;
const XDP_PASS: i32 = 2;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// Queues the XSK map has room for (a socket per queue).
const MAX_QUEUES: u32 = 64;

/// How the socket and the program ended up attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum XdpMode {
    /// Zero-copy: the NIC writes into the UMEM.
    ZeroCopy,
    /// Driver-mode XDP, frames copied into the UMEM (veth).
    DriverCopy,
    /// Generic (skb) XDP, frames copied into the UMEM.
    GenericCopy,
}

impl XdpMode {
    /// The mode's name, as `show` prints it.
    pub fn name(self) -> &'static str {
        match self {
            XdpMode::ZeroCopy => "zero-copy",
            XdpMode::DriverCopy => "driver mode, copy",
            XdpMode::GenericCopy => "generic mode, copy",
        }
    }
}

impl std::fmt::Display for XdpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn sys_err(iface: &str, step: &'static str) -> PortError {
    PortError::Sys {
        iface: format!("af_xdp:{iface}"),
        step,
        source: std::io::Error::last_os_error(),
    }
}

/// One eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy)]
struct BpfInsn {
    code: u8,
    /// dst register in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The XDP program: `return bpf_redirect_map(&xsks, ctx->rx_queue_index,
/// XDP_PASS)` — a frame of a queue with a socket goes to it, any other
/// frame on to the kernel stack.
fn redirect_program(map_fd: RawFd) -> [BpfInsn; 6] {
    [
        // r2 = *(u32 *)(r1 + offsetof(struct xdp_md, rx_queue_index))
        insn(0x61, 2, 1, 16, 0),
        // r1 = map (ld_imm64, two slots)
        insn(0x18, 1, BPF_PSEUDO_MAP_FD, 0, map_fd),
        insn(0, 0, 0, 0, 0),
        // r3 = XDP_PASS (what bpf_redirect_map returns without a socket)
        insn(0xb7, 3, 0, 0, XDP_PASS),
        // call bpf_redirect_map
        insn(0x85, 0, 0, 0, BPF_FUNC_REDIRECT_MAP),
        // exit (r0 = the helper's verdict)
        insn(0x95, 0, 0, 0, 0),
    ]
}

/// `bpf(cmd, attr)` with `attr` zero-padded as the kernel expects.
fn bpf<T>(cmd: libc::c_long, attr: &T) -> std::io::Result<RawFd> {
    // SAFETY: `attr` is a live repr(C) value of the size passed; the kernel
    // reads at most that many bytes and treats missing fields as zero.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            (attr as *const T).cast::<libc::c_void>(),
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as RawFd)
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The XSK map, the program and its link to the interface.
struct XdpProgram {
    // Field order: the link goes first (detaching the program), then the
    // program, then the map.
    _link: OwnedFd,
    _prog: OwnedFd,
    map: OwnedFd,
    mode_drv: bool,
}

impl XdpProgram {
    fn attach(iface: &str, ifindex: u32) -> Result<Self, PortError> {
        #[repr(C)]
        struct MapCreate {
            map_type: u32,
            key_size: u32,
            value_size: u32,
            max_entries: u32,
            map_flags: u32,
        }
        let map = bpf(
            BPF_MAP_CREATE,
            &MapCreate {
                map_type: BPF_MAP_TYPE_XSKMAP,
                key_size: 4,
                value_size: 4,
                max_entries: MAX_QUEUES,
                map_flags: 0,
            },
        )
        .map_err(|source| PortError::Sys {
            iface: format!("af_xdp:{iface}"),
            step: "creating the XSK map (bpf BPF_MAP_CREATE; needs CAP_BPF or root)",
            source,
        })?;
        let map = owned(map);
        let prog = redirect_program(map.as_raw_fd());
        let license = c"GPL";
        let mut log = vec![0u8; 4096];
        #[repr(C)]
        struct ProgLoad {
            prog_type: u32,
            insn_cnt: u32,
            insns: u64,
            license: u64,
            log_level: u32,
            log_size: u32,
            log_buf: u64,
            kern_version: u32,
            prog_flags: u32,
            prog_name: [u8; 16],
            prog_ifindex: u32,
            expected_attach_type: u32,
        }
        let mut name = [0u8; 16];
        name[..12].copy_from_slice(b"fastpath_xsk");
        let load = |log_level: u32, log: &mut [u8]| {
            bpf(
                BPF_PROG_LOAD,
                &ProgLoad {
                    prog_type: BPF_PROG_TYPE_XDP,
                    insn_cnt: prog.len() as u32,
                    insns: prog.as_ptr() as u64,
                    license: license.as_ptr() as u64,
                    log_level,
                    log_size: if log_level > 0 { log.len() as u32 } else { 0 },
                    log_buf: if log_level > 0 {
                        log.as_mut_ptr() as u64
                    } else {
                        0
                    },
                    kern_version: 0,
                    prog_flags: 0,
                    prog_name: name,
                    prog_ifindex: 0,
                    expected_attach_type: BPF_XDP,
                },
            )
        };
        let prog = match load(0, &mut log) {
            Ok(fd) => owned(fd),
            Err(e) => {
                // Load again with the verifier's log, for the message.
                let _ = load(1, &mut log);
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let why = String::from_utf8_lossy(&log[..end]).trim().to_string();
                return Err(PortError::Sys {
                    iface: format!("af_xdp:{iface}"),
                    step: "loading the XDP program (bpf BPF_PROG_LOAD)",
                    source: std::io::Error::new(e.kind(), format!("{e}; verifier: {why}")),
                });
            }
        };
        #[repr(C)]
        struct LinkCreate {
            prog_fd: u32,
            target_ifindex: u32,
            attach_type: u32,
            flags: u32,
        }
        let link = |flags: u32| {
            bpf(
                BPF_LINK_CREATE,
                &LinkCreate {
                    prog_fd: prog.as_raw_fd() as u32,
                    target_ifindex: ifindex,
                    attach_type: BPF_XDP,
                    flags,
                },
            )
        };
        let (link, mode_drv) = match link(XDP_FLAGS_DRV_MODE) {
            Ok(fd) => (fd, true),
            Err(drv) => match link(XDP_FLAGS_SKB_MODE) {
                Ok(fd) => {
                    tracing::debug!(iface, error = %drv, "no driver-mode XDP; generic mode");
                    (fd, false)
                }
                Err(source) => {
                    return Err(PortError::Sys {
                        iface: format!("af_xdp:{iface}"),
                        step: "attaching the XDP program (bpf BPF_LINK_CREATE; \
                               EEXIST or EBUSY: the interface already has one)",
                        source,
                    })
                }
            },
        };
        Ok(XdpProgram {
            _link: owned(link),
            _prog: prog,
            map,
            mode_drv,
        })
    }

    /// Points queue `queue`'s map entry at socket `xsk`.
    fn insert(&self, iface: &str, queue: u32, xsk: RawFd) -> Result<(), PortError> {
        #[repr(C)]
        struct MapUpdate {
            map_fd: u32,
            _pad: u32,
            key: u64,
            value: u64,
            flags: u64,
        }
        let key: u32 = queue;
        let value: u32 = xsk as u32;
        bpf(
            BPF_MAP_UPDATE_ELEM,
            &MapUpdate {
                map_fd: self.map.as_raw_fd() as u32,
                _pad: 0,
                key: &key as *const u32 as u64,
                value: &value as *const u32 as u64,
                flags: 0,
            },
        )
        .map(drop)
        .map_err(|source| PortError::Sys {
            iface: format!("af_xdp:{iface}"),
            step: "adding the socket to the XSK map",
            source,
        })
    }
}

/// A memory mapping, unmapped on drop.
struct Mmap {
    base: *mut u8,
    len: usize,
}

impl Mmap {
    fn new(fd: Option<RawFd>, len: usize, offset: u64) -> std::io::Result<Mmap> {
        let (flags, fd) = match fd {
            Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd),
            None => (
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
            ),
        };
        // SAFETY: a fresh mapping; the kernel picks the address. The result
        // is checked and owned by the returned value.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mmap {
            base: base.cast(),
            len,
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping mmap returned; no borrow outlives the port.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// One of the four rings shared with the kernel: a producer and a consumer
/// index, a flags word and `size` descriptors of type `D`.
struct Ring<D> {
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut D,
    mask: u32,
    /// Our copy of the index we own, and of the kernel's last seen.
    cached_prod: u32,
    cached_cons: u32,
    _map: Mmap,
}

impl<D: Copy> Ring<D> {
    fn map(fd: RawFd, off: &libc::xdp_ring_offset, size: u32, pgoff: u64) -> std::io::Result<Self> {
        let len = off.desc as usize + size as usize * std::mem::size_of::<D>();
        let m = Mmap::new(Some(fd), len, pgoff)?;
        let at = |o: u64| {
            // SAFETY: the kernel's offsets lie inside the mapping of `len` bytes.
            unsafe { m.base.add(o as usize) }
        };
        let mut r = Ring {
            producer: at(off.producer).cast(),
            consumer: at(off.consumer).cast(),
            flags: at(off.flags).cast(),
            desc: at(off.desc).cast(),
            mask: size - 1,
            cached_prod: 0,
            cached_cons: 0,
            _map: m,
        };
        r.cached_prod = r.prod().load(Ordering::Relaxed);
        r.cached_cons = r.cons().load(Ordering::Relaxed);
        Ok(r)
    }

    fn prod(&self) -> &AtomicU32 {
        // SAFETY: points into the live mapping; the kernel updates it
        // concurrently, which is what the atomic type is for.
        unsafe { &*self.producer }
    }

    fn cons(&self) -> &AtomicU32 {
        // SAFETY: as `prod`.
        unsafe { &*self.consumer }
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: as `prod`.
        unsafe { &*self.flags }.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    fn slot(&self, i: u32) -> *mut D {
        // SAFETY: masked index < size, inside the mapping.
        unsafe { self.desc.add((i & self.mask) as usize) }
    }

    // Producer side (fill, TX).

    /// Free slots (the kernel's consumer index read now).
    fn free(&mut self) -> u32 {
        self.cached_cons = self.cons().load(Ordering::Acquire);
        self.mask + 1 - self.cached_prod.wrapping_sub(self.cached_cons)
    }

    fn push(&mut self, d: D) {
        // SAFETY: the caller checked `free`; the slot is ours until `submit`.
        unsafe { self.slot(self.cached_prod).write(d) };
        self.cached_prod = self.cached_prod.wrapping_add(1);
    }

    fn submit(&self) {
        self.prod().store(self.cached_prod, Ordering::Release);
    }

    // Consumer side (RX, completion).

    /// Entries ready (the kernel's producer index read now).
    fn ready(&mut self) -> u32 {
        self.cached_prod = self.prod().load(Ordering::Acquire);
        self.cached_prod.wrapping_sub(self.cached_cons)
    }

    fn peek(&self, k: u32) -> D {
        // SAFETY: k < ready(); the kernel does not rewrite the slot until released.
        unsafe { self.slot(self.cached_cons.wrapping_add(k)).read() }
    }

    fn release(&mut self, n: u32) {
        self.cached_cons = self.cached_cons.wrapping_add(n);
        self.cons().store(self.cached_cons, Ordering::Release);
    }
}

/// Receive queues of `iface` (`/sys/class/net/IFACE/queues/rx-*`; 1 when
/// unreadable).
fn rx_queues(iface: &str) -> usize {
    std::fs::read_dir(format!("/sys/class/net/{iface}/queues"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count()
        })
        .unwrap_or(1)
        .max(1)
}

// SAFETY: the rings and the UMEM are mappings owned by the port, used only
// through `&mut self`; moving the port moves them. The shared program is
// only read (map updates are system calls).
unsafe impl Send for AfXdpPort {}

/// An AF_XDP port on one interface queue.
pub struct AfXdpPort {
    iface: String,
    queue: u32,
    /// How it is attached.
    pub mode: XdpMode,
    /// Interface MTU when opened.
    pub mtu: u32,
    // Field order: rings unmapped, then the socket closed (which frees the
    // UMEM registration), then the UMEM unmapped, then the program detached.
    rx: Ring<libc::xdp_desc>,
    tx: Ring<libc::xdp_desc>,
    fill: Ring<u64>,
    comp: Ring<u64>,
    fd: OwnedFd,
    umem: Mmap,
    /// Shared by the sockets of one interface's queues.
    _prog: std::sync::Arc<XdpProgram>,
    /// Transmit chunks not in flight.
    tx_free: Vec<u64>,
    stats: PortStats,
    /// The kernel's XDP_STATISTICS at the last read (they only grow).
    kernel_dropped: u64,
}

impl AfXdpPort {
    /// Opens queue 0 of interface `iface`: program, socket, UMEM, rings, bind.
    pub fn open(iface: &str) -> Result<Self, PortError> {
        Self::open_queue(iface, 0)
    }

    /// Opens queue `queue` of interface `iface`.
    pub fn open_queue(iface: &str, queue: u32) -> Result<Self, PortError> {
        Self::open_with(iface, queue, None)
    }

    /// Opens queues 0..`n` of `iface`, one socket each, behind one program:
    /// the NIC's (or veth's) RSS picks the queue, so the socket, of each
    /// frame. Refused when the interface has fewer receive queues than `n`
    /// (a veth gets them with `numrxqueues N numtxqueues N`).
    pub fn open_queues(iface: &str, n: usize) -> Result<Vec<Self>, PortError> {
        if n > 1 {
            let have = rx_queues(iface);
            if have < n {
                return Err(PortError::Spec {
                    spec: format!("af_xdp:{iface}"),
                    msg: format!(
                        "{have} receive queue(s), but --threads {n} needs one per packet thread \
                         (create the veth with `numrxqueues {n} numtxqueues {n}`, use \
                         af_packet, or fewer threads)"
                    ),
                });
            }
        }
        if n > 1 && rx_queues(iface) > n {
            tracing::warn!(
                iface,
                queues = rx_queues(iface),
                threads = n,
                "af_xdp: queues past the packet threads have no socket; their frames go to the kernel"
            );
        }
        let first = Self::open_with(iface, 0, None)?;
        let prog = first._prog.clone();
        let mut v = vec![first];
        for q in 1..n as u32 {
            v.push(Self::open_with(iface, q, Some(prog.clone()))?);
        }
        Ok(v)
    }

    fn open_with(
        iface: &str,
        queue: u32,
        prog: Option<std::sync::Arc<XdpProgram>>,
    ) -> Result<Self, PortError> {
        let (cname, ifindex) = interface(iface, format!("af_xdp:{iface}"))?;
        let mtu = super::af_packet::interface_mtu(&cname).unwrap_or(1500);
        if mtu + 18 > MAX_FRAME {
            return Err(PortError::Spec {
                spec: format!("af_xdp:{iface}"),
                msg: format!(
                    "MTU {mtu} is more than an AF_XDP chunk holds ({} bytes of frame); \
                     use af_packet for jumbo frames",
                    MAX_FRAME
                ),
            });
        }
        let prog = match prog {
            Some(p) => p,
            None => std::sync::Arc::new(XdpProgram::attach(iface, ifindex)?),
        };
        // Zero-copy first; drivers without it (veth) refuse the bind.
        let (mut port, zc_err) = match Self::socket(iface, ifindex, queue, true, mtu, prog) {
            Ok(p) => (p, None),
            Err((e, prog)) => {
                let prog = prog.ok_or(e)?;
                match Self::socket(iface, ifindex, queue, false, mtu, prog) {
                    Ok(p) => (p, Some(())),
                    Err((e, _)) => return Err(e),
                }
            }
        };
        if zc_err.is_some() {
            port.mode = if port._prog.mode_drv {
                XdpMode::DriverCopy
            } else {
                XdpMode::GenericCopy
            };
        }
        port._prog.insert(iface, queue, port.fd.as_raw_fd())?;
        tracing::debug!(iface, queue, mode = %port.mode, "af_xdp port open");
        Ok(port)
    }

    /// Socket, UMEM, rings and bind; on a failed bind, the program back
    /// (so copy mode can be tried on a fresh socket).
    fn socket(
        iface: &str,
        ifindex: u32,
        queue: u32,
        zero_copy: bool,
        mtu: u32,
        prog: std::sync::Arc<XdpProgram>,
    ) -> Result<Self, (PortError, Option<std::sync::Arc<XdpProgram>>)> {
        let fail = |step| (sys_err(iface, step), None);
        let io = |step: &'static str| {
            move |source| {
                (
                    PortError::Sys {
                        iface: format!("af_xdp:{iface}"),
                        step,
                        source,
                    },
                    None,
                )
            }
        };
        // SAFETY: plain socket creation; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(fail(
                "socket(AF_XDP) (needs CONFIG_XDP_SOCKETS and CAP_NET_RAW)",
            ));
        }
        let fd = owned(raw);
        let umem = Mmap::new(None, (NUM_FRAMES * FRAME_SIZE) as usize, 0)
            .map_err(io("mapping the UMEM"))?;
        // SAFETY: xdp_umem_reg is plain data; all-zero is a valid value.
        let mut reg: libc::xdp_umem_reg = unsafe { std::mem::zeroed() };
        reg.addr = umem.base as u64;
        reg.len = umem.len as u64;
        reg.chunk_size = FRAME_SIZE;
        reg.headroom = 0;
        setopt(raw, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg).map_err(io("XDP_UMEM_REG"))?;
        for (opt, n, step) in [
            (libc::XDP_UMEM_FILL_RING, RX_RING, "XDP_UMEM_FILL_RING"),
            (
                libc::XDP_UMEM_COMPLETION_RING,
                TX_RING,
                "XDP_UMEM_COMPLETION_RING",
            ),
            (libc::XDP_RX_RING, RX_RING, "XDP_RX_RING"),
            (libc::XDP_TX_RING, TX_RING, "XDP_TX_RING"),
        ] {
            setopt(raw, libc::SOL_XDP, opt, &n).map_err(io(step))?;
        }
        let off = getopt::<libc::xdp_mmap_offsets>(raw, libc::SOL_XDP, libc::XDP_MMAP_OFFSETS)
            .map_err(io("XDP_MMAP_OFFSETS"))?;
        let rx = Ring::map(raw, &off.rx, RX_RING, libc::XDP_PGOFF_RX_RING as u64)
            .map_err(io("mapping the RX ring"))?;
        let tx = Ring::map(raw, &off.tx, TX_RING, libc::XDP_PGOFF_TX_RING as u64)
            .map_err(io("mapping the TX ring"))?;
        let mut fill = Ring::map(raw, &off.fr, RX_RING, libc::XDP_UMEM_PGOFF_FILL_RING)
            .map_err(io("mapping the fill ring"))?;
        let comp = Ring::map(raw, &off.cr, TX_RING, libc::XDP_UMEM_PGOFF_COMPLETION_RING)
            .map_err(io("mapping the completion ring"))?;
        // Chunks 0..RX_RING receive; the rest transmit.
        for i in 0..RX_RING {
            fill.push(u64::from(i * FRAME_SIZE));
        }
        fill.submit();
        let tx_free = (RX_RING..NUM_FRAMES)
            .rev()
            .map(|i| u64::from(i * FRAME_SIZE))
            .collect();
        // SAFETY: sockaddr_xdp is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_xdp = unsafe { std::mem::zeroed() };
        sa.sxdp_family = libc::AF_XDP as u16;
        sa.sxdp_ifindex = ifindex;
        sa.sxdp_queue_id = queue;
        sa.sxdp_flags = libc::XDP_USE_NEED_WAKEUP
            | if zero_copy {
                libc::XDP_ZEROCOPY
            } else {
                libc::XDP_COPY
            };
        // SAFETY: `sa` is a valid sockaddr_xdp of the size passed.
        let r = unsafe {
            libc::bind(
                raw,
                (&sa as *const libc::sockaddr_xdp).cast(),
                std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = sys_err(
                iface,
                if zero_copy {
                    "bind (zero-copy)"
                } else {
                    "bind (copy mode; EBUSY: the queue has a socket already)"
                },
            );
            return Err((e, Some(prog)));
        }
        Ok(AfXdpPort {
            iface: iface.to_string(),
            queue,
            mode: XdpMode::ZeroCopy,
            mtu,
            rx,
            tx,
            fill,
            comp,
            fd,
            umem,
            _prog: prog,
            tx_free,
            stats: PortStats::default(),
            kernel_dropped: 0,
        })
    }

    /// The interface queue this socket is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Takes back the chunks of frames the kernel finished sending.
    fn reap(&mut self) {
        let n = self.comp.ready();
        for k in 0..n {
            let a = self.comp.peek(k);
            self.tx_free.push(a & !u64::from(FRAME_SIZE - 1));
        }
        if n > 0 {
            self.comp.release(n);
        }
    }

    /// Whether frames wait on the TX ring for the kernel.
    fn tx_waiting(&mut self) -> bool {
        self.tx.free() < TX_RING
    }

    /// Kicks until the kernel took every frame off the TX ring (in copy
    /// mode it sends at most a burst per kick), at most 8 times: what is
    /// left goes with the next burst's kick.
    fn flush(&mut self) {
        for _ in 0..8 {
            self.kick();
            if !self.tx_waiting() {
                break;
            }
        }
    }

    /// Tells the kernel to send what is on the TX ring. EAGAIN/EBUSY: it is
    /// still busy with earlier frames, which stay queued.
    fn kick(&mut self) {
        if !self.tx.needs_wakeup() {
            return;
        }
        // SAFETY: a zero-length send on our socket only wakes the kernel.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ENOBUFS)
                | Some(libc::EINTR) => {}
                Some(libc::ENETDOWN) | Some(libc::ENXIO) => self.stats.link_down += 1,
                _ => tracing::trace!(iface = %self.iface, error = %e, "af_xdp kick failed"),
            }
        }
    }
}

impl Port for AfXdpPort {
    fn recv(&mut self, f: &mut dyn FnMut(&[&[u8]])) -> usize {
        if self.tx_waiting() {
            self.flush();
        }
        self.reap();
        let n = self.rx.ready().min(BURST as u32);
        if n == 0 {
            if self.fill.needs_wakeup() {
                // SAFETY: a zero-length receive on our socket only wakes the kernel.
                unsafe {
                    libc::recvfrom(
                        self.fd.as_raw_fd(),
                        std::ptr::null_mut(),
                        0,
                        libc::MSG_DONTWAIT,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                };
            }
            return 0;
        }
        // (offset, length) of each good frame, then the frames themselves.
        let mut spans = [(0usize, 0usize); BURST];
        let mut addrs = [0u64; BURST];
        let mut got = 0;
        for k in 0..n {
            let d = self.rx.peek(k);
            addrs[k as usize] = d.addr & !u64::from(FRAME_SIZE - 1);
            let len = d.len as usize;
            let ok = (d.addr as usize)
                .checked_add(len)
                .is_some_and(|end| end <= self.umem.len && len <= FRAME_SIZE as usize);
            if ok {
                self.stats.rx_packets += 1;
                self.stats.rx_bytes += len as u64;
                spans[got] = (d.addr as usize, len);
                got += 1;
            } else {
                self.stats.rx_errors += 1;
            }
        }
        if got > 0 {
            let mut frames: [&[u8]; BURST] = [&[]; BURST];
            for (fr, &(at, len)) in frames.iter_mut().zip(&spans[..got]) {
                // SAFETY: inside the UMEM (checked above); the kernel handed
                // the chunk over on the RX ring and does not write it until
                // it is back on the fill ring, after `f` returned.
                *fr = unsafe { std::slice::from_raw_parts(self.umem.base.add(at), len) };
            }
            f(&frames[..got]);
        }
        self.rx.release(n);
        // The chunks go straight back to the fill ring: it has room for
        // every receive chunk, so `free` is at least n.
        let free = self.fill.free();
        for &a in &addrs[..n.min(free) as usize] {
            self.fill.push(a);
        }
        self.fill.submit();
        n as usize
    }

    fn send(&mut self, q: &mut TxQueue) {
        if q.is_empty() {
            return;
        }
        self.reap();
        let mut room = self.tx.free();
        let mut posted = 0;
        for fr in q.frames() {
            if fr.len() > MAX_FRAME as usize {
                self.stats.tx_errors += 1;
                continue;
            }
            let Some(addr) = self.tx_free.pop().filter(|_| room > 0) else {
                // No chunk or no ring slot: the device is behind.
                self.stats.tx_dropped += 1;
                continue;
            };
            // SAFETY: the chunk is a free transmit chunk inside the UMEM,
            // not on any ring; the frame fits (checked above).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    fr.as_ptr(),
                    self.umem.base.add(addr as usize),
                    fr.len(),
                )
            };
            self.tx.push(libc::xdp_desc {
                addr,
                len: fr.len() as u32,
                options: 0,
            });
            room -= 1;
            posted += 1;
            self.stats.tx_packets += 1;
            self.stats.tx_bytes += fr.len() as u64;
        }
        if posted > 0 {
            self.tx.submit();
            self.flush();
        }
        q.clear();
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn mode(&self) -> Option<&'static str> {
        Some(self.mode.name())
    }

    fn poll_error(&mut self) {
        let e = socket_error(self.fd.as_raw_fd());
        self.stats.link_down += 1;
        tracing::warn!(iface = %self.iface, error = %e, "link down");
    }

    fn stats(&mut self) -> PortStats {
        let r = getopt::<libc::xdp_statistics>(
            self.fd.as_raw_fd(),
            libc::SOL_XDP,
            libc::XDP_STATISTICS,
        );
        if let Ok(st) = r {
            // Frames the kernel had for the socket but could not deliver
            // (RX ring full, no fill chunk, too long): the counters are
            // cumulative, so only the growth is added.
            let now = st.rx_dropped + st.rx_ring_full;
            self.stats.rx_dropped += now.saturating_sub(self.kernel_dropped);
            self.kernel_dropped = now;
        }
        self.stats
    }

    fn close(&mut self) -> Result<(), PortError> {
        // Frames on the TX ring go out before the socket closes: kick until
        // the kernel completed them all (bounded: 100 ms).
        let t0 = std::time::Instant::now();
        let in_flight = |p: &Self| (NUM_FRAMES - RX_RING) as usize - p.tx_free.len();
        while in_flight(self) > 0 && t0.elapsed() < std::time::Duration::from_millis(100) {
            self.kick();
            self.reap();
            std::thread::yield_now();
        }
        // What never completed was not sent.
        let lost = in_flight(self) as u64;
        self.stats.tx_packets -= lost.min(self.stats.tx_packets);
        self.stats.tx_dropped += lost;
        Ok(())
    }
}
