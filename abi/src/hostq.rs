//! The host queue pair's contract: the metadata that travels with a frame
//! between the NIC and the host.
//!
//! The NIC has one host RX queue (NIC → host) and one host TX queue
//! (host → NIC). A frame reaches the host for one of three [`HostRxReason`]s:
//! its flow's action is partial offload (a hardware hit with a mark, the flow
//! id whose actions the host runs without classifying the frame again), its
//! key missed every table, or the parser could not build its key
//! ([`crate::parser::Exception`]). The host sends a frame out of a MAC port
//! or injects it into the pipeline as if it had arrived on a port
//! ([`HostTxKind`]).
//!
//! Port numbers are datapath port numbers ([`crate::action::MAC_PORT_BASE`]).

use crate::parser::{Exception, MalformedReason};

/// Why a frame came to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HostRxReason {
    /// Hardware hit whose action is [`crate::action::ActionKind::ToHost`]:
    /// `HR_MARK` is the flow id, the host runs its actions.
    Marked = 0,
    /// No table held the key: the host classifies it (upcall on a miss there).
    Miss = 1,
    /// The parser gave no key (`HR_EXCEPTION`): the host parses the frame.
    Exception = 2,
}

impl HostRxReason {
    /// Every reason, in code order.
    pub const ALL: &'static [HostRxReason] = &[
        HostRxReason::Marked,
        HostRxReason::Miss,
        HostRxReason::Exception,
    ];

    /// Counter name (`host_rx.<name>` in the run statistics).
    pub const fn name(self) -> &'static str {
        match self {
            HostRxReason::Marked => "marked",
            HostRxReason::Miss => "miss",
            HostRxReason::Exception => "exception",
        }
    }
}

crate::layout! {
    /// Metadata of a frame on the host RX queue (two 64-bit words).
    HOST_RX_META {
        /// [`HostRxReason`].
        HR_REASON = (0, 2),
        /// [`Exception`] code when `HR_REASON` is `Exception`, else 0.
        HR_EXCEPTION = (2, 2),
        /// [`MalformedReason`] code of the parse; 0 = parsed to its end.
        HR_MALFORMED = (4, 5),
        /// `bad_ip_version` was counted.
        HR_BAD_IP_VERSION = (9, 1),
        /// The parsed key follows the frame, so the host need not parse again.
        HR_KEY_VALID = (10, 1),
        /// Datapath port the frame arrived on.
        HR_IN_PORT = (16, 16),
        /// Frame length in bytes.
        HR_FRAME_LEN = (32, 16),
        /// Flow id of the hit (`Marked` only).
        HR_MARK = (64, 24),
        /// The key's hash ([`crate::hash_key`]); valid with `HR_KEY_VALID`.
        HR_HASH = (96, 32),
    }
}

/// 64-bit words of the host RX metadata.
pub const HOST_RX_META_WORDS: usize = 2;

/// OpenNIC shell (`boards/opennic`): bytes before each frame on
/// QDMA C2H, the [`HOST_RX_META`] words little-endian, word 0 first (the
/// shell's DMA has no side channel for them).
pub const QDMA_C2H_HEADER_BYTES: usize = HOST_RX_META_WORDS * 8;

/// OpenNIC shell: bytes before each frame on QDMA H2C, the [`HOST_TX_META`]
/// word little-endian. Its `HT_FRAME_LEN` is not read by the hardware (the
/// stream's last beat ends the frame).
pub const QDMA_H2C_HEADER_BYTES: usize = 8;

const _: () = assert!(HR_MARK.width >= crate::regs::FLOW_ID_BITS);
const _: () = assert!(HR_MALFORMED.width as usize == crate::parser::MALFORMED_CODE_BITS);

/// What the host asks of a frame it hands the NIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HostTxKind {
    /// Send out of MAC port `HT_PORT` as it is.
    Output = 0,
    /// Run through the pipeline as if received on `HT_PORT`.
    Inject = 1,
}

crate::layout! {
    /// Metadata of a frame on the host TX queue (one 64-bit word).
    HOST_TX_META {
        /// [`HostTxKind`].
        HT_KIND = (0, 1),
        /// Datapath port.
        HT_PORT = (16, 16),
        /// Frame length in bytes.
        HT_FRAME_LEN = (32, 16),
    }
}

/// Decoded host RX metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostRxMeta {
    /// Why the frame came.
    pub reason: HostRxReason,
    /// Parser exception (with `reason == Exception`).
    pub exception: Option<Exception>,
    /// Malformed reason of the parse.
    pub malformed: Option<MalformedReason>,
    /// `bad_ip_version` was counted.
    pub bad_ip_version: bool,
    /// The parsed key follows.
    pub key_valid: bool,
    /// In port.
    pub in_port: u16,
    /// Frame length.
    pub frame_len: u16,
    /// Flow id (with `reason == Marked`).
    pub mark: u32,
    /// Key hash.
    pub hash: u32,
}

/// Decoded host TX metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostTxMeta {
    /// Output or inject.
    pub kind: HostTxKind,
    /// Datapath port.
    pub port: u16,
    /// Frame length.
    pub frame_len: u16,
}

/// Metadata that does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostMetaError {
    /// `HR_REASON` = 3.
    #[error("host RX meta {0:#018x}: unknown reason {1}")]
    Reason(u64, u8),
    /// Unknown exception code, or one given with another reason.
    #[error("host RX meta {0:#018x}: exception code {1} does not fit the reason")]
    Exception(u64, u8),
    /// Unknown malformed-reason code.
    #[error("host RX meta {0:#018x}: unknown malformed-reason code {1}")]
    Malformed(u64, u8),
}

impl HostRxMeta {
    /// Encodes the metadata words.
    pub fn encode(&self) -> [u64; HOST_RX_META_WORDS] {
        let mut w = [0u64; HOST_RX_META_WORDS];
        HR_REASON.set(&mut w, self.reason as u64);
        HR_EXCEPTION.set(&mut w, self.exception.map_or(0, |e| e as u64));
        HR_MALFORMED.set(&mut w, self.malformed.map_or(0, |r| r as u64));
        HR_BAD_IP_VERSION.set(&mut w, self.bad_ip_version as u64);
        HR_KEY_VALID.set(&mut w, self.key_valid as u64);
        HR_IN_PORT.set(&mut w, self.in_port as u64);
        HR_FRAME_LEN.set(&mut w, self.frame_len as u64);
        HR_MARK.set(&mut w, self.mark as u64);
        HR_HASH.set(&mut w, self.hash as u64);
        w
    }

    /// Decodes the metadata words.
    pub fn decode(w: &[u64; HOST_RX_META_WORDS]) -> Result<HostRxMeta, HostMetaError> {
        let reason = match HR_REASON.get(w) {
            0 => HostRxReason::Marked,
            1 => HostRxReason::Miss,
            2 => HostRxReason::Exception,
            r => return Err(HostMetaError::Reason(w[0], r as u8)),
        };
        let e = HR_EXCEPTION.get(w) as u8;
        let exception = match (reason, e) {
            (HostRxReason::Exception, c) => {
                Some(Exception::from_code(c).ok_or(HostMetaError::Exception(w[0], c))?)
            }
            (_, 0) => None,
            (_, c) => return Err(HostMetaError::Exception(w[0], c)),
        };
        let m = HR_MALFORMED.get(w) as u8;
        let malformed = match m {
            0 => None,
            c => Some(MalformedReason::from_code(c).ok_or(HostMetaError::Malformed(w[0], c))?),
        };
        Ok(HostRxMeta {
            reason,
            exception,
            malformed,
            bad_ip_version: HR_BAD_IP_VERSION.get(w) != 0,
            key_valid: HR_KEY_VALID.get(w) != 0,
            in_port: HR_IN_PORT.get(w) as u16,
            frame_len: HR_FRAME_LEN.get(w) as u16,
            mark: HR_MARK.get(w) as u32,
            hash: HR_HASH.get(w) as u32,
        })
    }
}

impl HostTxMeta {
    /// Encodes the metadata word.
    pub fn encode(&self) -> u64 {
        let mut w = [0u64];
        HT_KIND.set(&mut w, self.kind as u64);
        HT_PORT.set(&mut w, self.port as u64);
        HT_FRAME_LEN.set(&mut w, self.frame_len as u64);
        w[0]
    }

    /// Decodes the metadata word (every word decodes).
    pub fn decode(word: u64) -> HostTxMeta {
        let w = [word];
        HostTxMeta {
            kind: if HT_KIND.get(&w) == 0 {
                HostTxKind::Output
            } else {
                HostTxKind::Inject
            },
            port: HT_PORT.get(&w) as u16,
            frame_len: HT_FRAME_LEN.get(&w) as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_sound() {
        crate::bits::check_layout(HOST_RX_META, HOST_RX_META_WORDS, &[]).unwrap();
        crate::bits::check_layout(HOST_TX_META, 1, &[]).unwrap();
    }

    #[test]
    fn meta_round_trips_and_refuses_bad_codes() {
        let m = HostRxMeta {
            reason: HostRxReason::Exception,
            exception: Some(Exception::PastWindow),
            malformed: Some(MalformedReason::TruncatedVlan),
            bad_ip_version: true,
            key_valid: false,
            in_port: 3,
            frame_len: 9018,
            mark: 0,
            hash: 0xdead_beef,
        };
        assert_eq!(HostRxMeta::decode(&m.encode()), Ok(m));
        let mut bad = HostRxMeta {
            reason: HostRxReason::Marked,
            exception: None,
            mark: 0xff_ffff,
            ..m
        }
        .encode();
        assert!(HostRxMeta::decode(&bad).is_ok());
        HR_EXCEPTION.set(&mut bad, 1);
        assert!(matches!(
            HostRxMeta::decode(&bad),
            Err(HostMetaError::Exception(_, 1))
        ));
        let t = HostTxMeta {
            kind: HostTxKind::Inject,
            port: 2,
            frame_len: 64,
        };
        assert_eq!(HostTxMeta::decode(t.encode()), t);
    }
}
