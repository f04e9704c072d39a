//! AF_PACKET port: a TPACKET_V3 memory-mapped receive ring, `sendmmsg` for
//! transmit.
//!
//! Receive: the kernel fills blocks of the ring with frames and hands a
//! block over (`TP_STATUS_USER`) when it is full or after
//! [`RETIRE_TIMEOUT_MS`]; the switch reads frames in place, up to a burst at
//! a time, and gives the block back once every frame of it was processed.
//! No system call per frame, none per burst while blocks are ready.
//!
//! Transmit: the queued frames of a burst go out in one `sendmmsg` call. A
//! `PACKET_TX_RING` would also take one system call per burst (the kick)
//! and a copy per frame into the ring (the frames are rewritten copies or
//! sit in receive blocks that go back to the kernel), and the kernel still
//! builds one skb per frame either way; `sendmmsg` needs no second ring
//! mapping and reports each frame's error, which the counters need.
//!
//! The socket is bound to one interface and ignores its own transmitted
//! frames (`PACKET_IGNORE_OUTGOING`, and by packet type on kernels without
//! it). VLAN tags the kernel stripped into metadata are put back in the
//! frame, so the datapath sees the frame as it was on the wire.

use super::{Port, PortError, PortStats, TxQueue};
use crate::BURST;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Size of one ring block: holds ~800 64-byte frames, or one jumbo frame.
pub const BLOCK_SIZE: u32 = 1 << 17;
/// Blocks in the ring (8 MiB in all). Many small blocks rather than a few
/// large ones: at low rates the kernel hands over a block per retire
/// timeout however few frames it holds, so the number of blocks is how
/// long the packet thread may be descheduled before the kernel drops
/// (counted in `rx_dropped`); 16 blocks of 256 KiB dropped a few frames
/// of 3000 sent at 3 per ms on a loaded machine.
pub const BLOCK_NR: u32 = 64;
/// A partly filled block goes to the switch after this long.
pub const RETIRE_TIMEOUT_MS: u32 = 1;
/// Offset of the `sockaddr_ll` after each frame header (TPACKET_ALIGN of the header size).
const SLL_OFFSET: usize = 48;
const ETH_P_ALL: u16 = 0x0003;

fn sys(iface: &str, step: &'static str) -> PortError {
    PortError::Sys {
        iface: format!("af_packet:{iface}"),
        step,
        source: std::io::Error::last_os_error(),
    }
}

pub(super) fn setopt<T>(fd: RawFd, level: i32, name: i32, v: &T) -> std::io::Result<()> {
    // SAFETY: `v` points to a live value of the size passed; the kernel only
    // reads it during the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn query_mtu(fd: RawFd, name: &CString) -> Option<u32> {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    let b = name.as_bytes();
    if b.len() >= ifr.ifr_name.len() {
        return None;
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU reads the name and writes ifru_mtu of `ifr`.
    let r = unsafe { libc::ioctl(fd, libc::SIOCGIFMTU, &mut ifr) };
    if r == 0 {
        // SAFETY: on success the kernel wrote the mtu member of the union.
        Some(unsafe { ifr.ifr_ifru.ifru_mtu } as u32)
    } else {
        None
    }
}

/// MTU of interface `name` (through a throw-away UDP socket, which every
/// network namespace can open).
pub(super) fn interface_mtu(name: &CString) -> Option<u32> {
    // SAFETY: plain socket creation; the result is checked and closed.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return None;
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    query_mtu(fd.as_raw_fd(), name)
}

/// Reads socket option `name` of `fd`. `T` must be a plain C value (an
/// integer or a libc struct) for which all-zero is valid.
pub(super) fn getopt<T>(fd: RawFd, level: i32, name: i32) -> std::io::Result<T> {
    // SAFETY: per the contract above, all-zero is a valid T.
    let mut v: T = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `v`/`len` describe a writable buffer of that size.
    let r = unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut T).cast(), &mut len) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(v)
    }
}

/// Takes (and so clears) the pending error of socket `fd`.
pub(super) fn socket_error(fd: RawFd) -> std::io::Error {
    match getopt::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_ERROR) {
        Ok(e) => std::io::Error::from_raw_os_error(e),
        Err(e) => e,
    }
}

/// `iface` as a C string and its index; `what` (`af_packet:IFACE`) names it
/// in errors.
pub(super) fn interface(iface: &str, what: String) -> Result<(CString, u32), PortError> {
    let cname = CString::new(iface).map_err(|_| PortError::Spec {
        spec: what.clone(),
        msg: "interface name contains NUL".into(),
    })?;
    // SAFETY: `cname` is a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(PortError::Sys {
            iface: what,
            step: "no such interface",
            source: std::io::Error::last_os_error(),
        });
    }
    Ok((cname, ifindex))
}

/// The memory-mapped ring.
struct Ring {
    base: *mut u8,
    len: usize,
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned; nothing
        // borrows the ring once its port is dropped.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// An AF_PACKET port on one interface.
pub struct AfPacketPort {
    iface: String,
    // Field order matters: the ring is unmapped before the socket closes.
    ring: Ring,
    fd: OwnedFd,
    /// Block being read, index of the next frame in it, its offset.
    block: usize,
    next: u32,
    offset: usize,
    /// Interface MTU when opened.
    pub mtu: u32,
    stats: PortStats,
    /// Frames whose VLAN tag is put back, one buffer per burst slot.
    vlan_bufs: Vec<Vec<u8>>,
    msgs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
}

// SAFETY: the ring mapping and the message headers' pointers are owned by
// the port and used only through `&mut self`; moving the port to another
// thread moves them all.
unsafe impl Send for AfPacketPort {}

impl AfPacketPort {
    /// Opens `n` sockets on `iface` in one `PACKET_FANOUT` group of type
    /// `PACKET_FANOUT_HASH` (with `DEFRAG`: a datagram's fragments stay
    /// together): the kernel sends each received frame to socket
    /// `skb_get_hash(frame) % n`, its flow hash (RSS). `n == 1`: one
    /// socket, no group.
    pub fn open_fanout(iface: &str, n: usize) -> Result<Vec<Self>, PortError> {
        let ports = (0..n)
            .map(|_| Self::open(iface))
            .collect::<Result<Vec<_>, _>>()?;
        if n > 1 {
            // Group ids are per network namespace: the process id and a
            // counter keep two switches (and two ports) apart.
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let id = (std::process::id().wrapping_mul(31).wrapping_add(k)) & 0xffff;
            let arg: libc::c_int = (id
                | ((libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG) << 16))
                as libc::c_int;
            for p in &ports {
                setopt(
                    p.fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_FANOUT,
                    &arg,
                )
                .map_err(|source| PortError::Sys {
                    iface: format!("af_packet:{iface}"),
                    step: "PACKET_FANOUT (hash)",
                    source,
                })?;
            }
        }
        Ok(ports)
    }

    /// Opens interface `iface`: socket, TPACKET_V3 ring, bind.
    pub fn open(iface: &str) -> Result<Self, PortError> {
        let (cname, ifindex) = interface(iface, format!("af_packet:{iface}"))?;
        // Protocol 0 until bound: a socket made with ETH_P_ALL would queue
        // frames of every interface until the bind.
        // SAFETY: plain socket creation; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(sys(iface, "socket(AF_PACKET) (needs CAP_NET_RAW)"));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let v3 = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setopt(raw, libc::SOL_PACKET, libc::PACKET_VERSION, &v3).map_err(|source| {
            PortError::Sys {
                iface: format!("af_packet:{iface}"),
                step: "PACKET_VERSION TPACKET_V3",
                source,
            }
        })?;
        let one: libc::c_int = 1;
        // Optional: older kernels lack them (outgoing frames are then
        // filtered by packet type; the qdisc is then not bypassed).
        let _ = setopt(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one);
        let _ = setopt(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one);
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: BLOCK_NR,
            tp_frame_size: 2048,
            tp_frame_nr: BLOCK_SIZE / 2048 * BLOCK_NR,
            tp_retire_blk_tov: RETIRE_TIMEOUT_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setopt(raw, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(|source| {
            PortError::Sys {
                iface: format!("af_packet:{iface}"),
                step: "PACKET_RX_RING",
                source,
            }
        })?;
        let len = (BLOCK_SIZE * BLOCK_NR) as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket;
        // the mapping lives in `Ring` and is unmapped on drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                raw,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(sys(iface, "mmap of the receive ring"));
        }
        let ring = Ring {
            base: base.cast(),
            len,
        };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
        let r = unsafe {
            libc::bind(
                raw,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(sys(iface, "bind"));
        }
        let mtu = query_mtu(raw, &cname).unwrap_or(1500);
        let msgs = Vec::with_capacity(BURST * 2);
        let iovs = Vec::with_capacity(BURST * 2);
        Ok(AfPacketPort {
            iface: format!("af_packet:{iface}"),
            ring,
            fd,
            block: 0,
            next: 0,
            offset: 0,
            mtu,
            stats: PortStats::default(),
            vlan_bufs: (0..BURST).map(|_| Vec::with_capacity(2048)).collect(),
            msgs,
            iovs,
        })
    }

    fn block_ptr(&self, i: usize) -> *mut u8 {
        // SAFETY: i < BLOCK_NR, so the offset stays inside the mapping.
        unsafe { self.ring.base.add(i * BLOCK_SIZE as usize) }
    }

    /// Status word of block `i` (written by the kernel).
    fn block_status(&self, i: usize) -> u32 {
        let p = self.block_ptr(i) as *const libc::tpacket_block_desc;
        // SAFETY: the block descriptor lies at the start of the block, inside
        // the mapping; the kernel writes it concurrently, hence volatile, and
        // the fence orders the frame reads after seeing TP_STATUS_USER.
        let s = unsafe { std::ptr::addr_of!((*p).hdr.bh1.block_status).read_volatile() };
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        s
    }

    fn read_u32(&self, off: usize) -> u32 {
        // SAFETY: callers pass offsets inside the current block, which the
        // kernel handed over (TP_STATUS_USER) and does not write until it is
        // given back.
        unsafe { (self.ring.base.add(off) as *const u32).read_unaligned() }
    }

    fn read_u16(&self, off: usize) -> u16 {
        // SAFETY: as `read_u32`.
        unsafe { (self.ring.base.add(off) as *const u16).read_unaligned() }
    }

    fn release_block(&mut self) {
        let p = self.block_ptr(self.block) as *mut libc::tpacket_block_desc;
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        // SAFETY: the descriptor is inside the mapping; handing the block
        // back is writing TP_STATUS_KERNEL to its status, after every read of
        // its frames (the fence).
        unsafe {
            std::ptr::addr_of_mut!((*p).hdr.bh1.block_status).write_volatile(libc::TP_STATUS_KERNEL)
        };
        self.block = (self.block + 1) % BLOCK_NR as usize;
        self.next = 0;
        self.offset = 0;
    }
}

impl Port for AfPacketPort {
    fn recv(&mut self, f: &mut dyn FnMut(&[&[u8]])) -> usize {
        if self.block_status(self.block) & libc::TP_STATUS_USER == 0 {
            return 0;
        }
        let bbase = self.block * BLOCK_SIZE as usize;
        // Block header: num_pkts at 12, offset_to_first_pkt at 16.
        let num = self.read_u32(bbase + 12);
        if self.next == 0 {
            self.offset = self.read_u32(bbase + 16) as usize;
        }
        // (offset in ring or VLAN buffer index, length)
        let mut spans: [(usize, usize, bool); BURST] = [(0, 0, false); BURST];
        let mut n = 0;
        let mut vlan_used = 0;
        while self.next < num && n < BURST {
            let h = bbase + self.offset;
            let next_off = self.read_u32(h) as usize;
            let snaplen = self.read_u32(h + 12) as usize;
            let len = self.read_u32(h + 16) as usize;
            let status = self.read_u32(h + 20);
            let mac = self.read_u16(h + 24) as usize;
            let tci = self.read_u32(h + 32);
            let tpid = self.read_u16(h + 36);
            // SAFETY: sockaddr_ll follows the header inside the frame slot.
            let pkttype = unsafe { *self.ring.base.add(h + SLL_OFFSET + 10) };
            self.next += 1;
            self.offset += next_off;
            let in_block = mac + snaplen <= BLOCK_SIZE as usize - (h - bbase);
            if pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            if snaplen < len || !in_block {
                self.stats.rx_errors += 1;
                continue;
            }
            let start = h + mac;
            self.stats.rx_packets += 1;
            if status & libc::TP_STATUS_VLAN_VALID != 0 && snaplen >= 12 {
                let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
                    tpid
                } else {
                    0x8100
                };
                let b = &mut self.vlan_bufs[vlan_used];
                b.clear();
                // SAFETY: [start, start+snaplen) is inside the handed-over block.
                let src = unsafe { std::slice::from_raw_parts(self.ring.base.add(start), snaplen) };
                b.extend_from_slice(&src[..12]);
                b.extend_from_slice(&tpid.to_be_bytes());
                b.extend_from_slice(&(tci as u16).to_be_bytes());
                b.extend_from_slice(&src[12..]);
                self.stats.rx_bytes += b.len() as u64;
                spans[n] = (vlan_used, b.len(), true);
                vlan_used += 1;
            } else {
                self.stats.rx_bytes += snaplen as u64;
                spans[n] = (start, snaplen, false);
            }
            n += 1;
        }
        if n > 0 {
            let mut frames: [&[u8]; BURST] = [&[]; BURST];
            for (fr, &(at, len, vlan)) in frames.iter_mut().zip(&spans[..n]) {
                *fr = if vlan {
                    &self.vlan_bufs[at][..]
                } else {
                    // SAFETY: inside the handed-over block, which stays ours
                    // until release_block below, after `f` returned.
                    unsafe { std::slice::from_raw_parts(self.ring.base.add(at), len) }
                };
            }
            f(&frames[..n]);
        }
        if self.next >= num {
            self.release_block();
        }
        n
    }

    fn send(&mut self, q: &mut TxQueue) {
        if q.is_empty() {
            return;
        }
        self.iovs.clear();
        self.msgs.clear();
        for fr in q.frames() {
            self.iovs.push(libc::iovec {
                iov_base: fr.as_ptr() as *mut libc::c_void,
                iov_len: fr.len(),
            });
        }
        for i in 0..self.iovs.len() {
            // SAFETY: mmsghdr is plain data; all-zero is a valid value.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = &mut self.iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            self.msgs.push(m);
        }
        let total = self.msgs.len();
        let mut at = 0;
        while at < total {
            // SAFETY: msgs[at..] are valid mmsghdrs whose iovecs point into
            // `q`'s buffer, alive and unchanged during the call.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    self.msgs.as_mut_ptr().add(at),
                    (total - at) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r > 0 {
                for m in &self.msgs[at..at + r as usize] {
                    self.stats.tx_packets += 1;
                    self.stats.tx_bytes += m.msg_len as u64;
                }
                at += r as usize;
                continue;
            }
            // The frame at `at` failed: count it by cause and go on.
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) | Some(libc::ENOBUFS) => self.stats.tx_dropped += 1,
                Some(libc::ENETDOWN) | Some(libc::ENXIO) => {
                    self.stats.link_down += 1;
                    self.stats.tx_errors += 1;
                }
                _ => self.stats.tx_errors += 1,
            }
            tracing::trace!(iface = %self.iface, error = %e, "af_packet send failed");
            at += 1;
        }
        self.msgs.clear();
        self.iovs.clear();
        q.clear();
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn poll_error(&mut self) {
        let e = socket_error(self.fd.as_raw_fd());
        self.stats.link_down += 1;
        tracing::warn!(iface = %self.iface, error = %e, "link down");
    }

    fn stats(&mut self) -> PortStats {
        // Reading the statistics resets them in the kernel, so they are
        // accumulated.
        let r = getopt::<libc::tpacket_stats_v3>(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
        );
        if let Ok(st) = r {
            self.stats.rx_dropped += st.tp_drops as u64;
        }
        self.stats
    }
}
