//! Bounded reading of text inputs (rule files, ClassBench traces).
//!
//! A file is read in chunks up to a size limit, every line up to a length
//! limit, and a NUL byte stops the read where it is found: `/dev/zero` or a
//! binary file is a clear error after one chunk instead of a read that never
//! ends. A UTF-8 byte-order mark and bytes that are not UTF-8 (even inside a
//! comment) are errors naming their line and column, rather than a parse
//! error about a strange first field or a rejection with no position.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Largest text input read (256 MiB: the 100K-rule ClassBench sets are
/// ~12 MB in `ovs-ofctl` syntax, their traces ~5 MB).
pub const MAX_TEXT_BYTES: u64 = 256 << 20;
/// Longest line accepted (64 KiB).
pub const MAX_LINE_BYTES: usize = 64 << 10;
/// The UTF-8 byte-order mark.
const BOM: &[u8] = &[0xef, 0xbb, 0xbf];
/// Tokens longer than this are shortened when a message quotes them.
pub const MAX_QUOTED: usize = 64;

/// Why a text input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// Open or read failed.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Larger than the size limit.
    #[error("{path}: larger than the limit of {limit} bytes")]
    TooLarge {
        /// File.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// A line longer than the line limit.
    #[error("{path}:{line}: line longer than the limit of {limit} bytes")]
    LongLine {
        /// File.
        path: String,
        /// 1-based line.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// Starts with a byte-order mark.
    #[error("{path}:1:1: UTF-8 byte-order mark (bytes ef bb bf): save the file without it")]
    Bom {
        /// File.
        path: String,
    },
    /// A NUL byte.
    #[error("{path}:{line}:{col}: NUL byte (a binary file?)")]
    Nul {
        /// File.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based byte column.
        col: usize,
    },
    /// Bytes that are not UTF-8.
    #[error("{path}:{line}:{col}: byte {byte:#04x} is not UTF-8 (the file must be UTF-8 text)")]
    NotUtf8 {
        /// File.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based byte column.
        col: usize,
        /// The first offending byte.
        byte: u8,
    },
}

/// Size and line-length limits of one kind of input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, bytes.
    pub max_bytes: u64,
    /// Longest line, bytes (without its newline).
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: MAX_TEXT_BYTES,
            max_line: MAX_LINE_BYTES,
        }
    }
}

/// Line and column (1-based) of byte `at` of `bytes`.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = 1 + at
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
    (line, col)
}

/// Incremental checks over the bytes read so far.
struct Scan {
    line: usize,
    line_len: usize,
}

impl Scan {
    fn chunk(
        &mut self,
        all: &[u8],
        from: usize,
        path: &str,
        lim: &Limits,
    ) -> Result<(), TextError> {
        if from == 0 && all.starts_with(BOM) {
            return Err(TextError::Bom { path: path.into() });
        }
        for (i, &b) in all[from..].iter().enumerate() {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.line_len = 0;
                }
                0 => {
                    let (line, col) = position(all, from + i);
                    return Err(TextError::Nul {
                        path: path.into(),
                        line,
                        col,
                    });
                }
                _ => {
                    self.line_len += 1;
                    // A trailing '\r' (CRLF) is not counted against the limit.
                    if self.line_len > lim.max_line + 1
                        || (self.line_len > lim.max_line && b != b'\r')
                    {
                        return Err(TextError::LongLine {
                            path: path.into(),
                            line: self.line,
                            limit: lim.max_line,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks `bytes` as a whole text input (what [`read_text`] does after reading).
pub fn check_text(bytes: Vec<u8>, path: &str, lim: &Limits) -> Result<String, TextError> {
    if bytes.len() as u64 > lim.max_bytes {
        return Err(TextError::TooLarge {
            path: path.into(),
            limit: lim.max_bytes,
        });
    }
    let mut scan = Scan {
        line: 1,
        line_len: 0,
    };
    scan.chunk(&bytes, 0, path, lim)?;
    finish(bytes, path)
}

fn finish(bytes: Vec<u8>, path: &str) -> Result<String, TextError> {
    if bytes.starts_with(BOM) {
        return Err(TextError::Bom { path: path.into() });
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let (line, col) = position(bytes, at);
        TextError::NotUtf8 {
            path: path.into(),
            line,
            col,
            byte: bytes[at],
        }
    })
}

/// Reads a text file within `lim`, stopping at the first NUL byte, the first
/// over-long line or the size limit, whichever comes first.
pub fn read_text(path: &Path, lim: &Limits) -> Result<String, TextError> {
    let name = path.display().to_string();
    let io = |source| TextError::Io {
        path: name.clone(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    let mut scan = Scan {
        line: 1,
        line_len: 0,
    };
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match f.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if (buf.len() + n) as u64 > lim.max_bytes {
            return Err(TextError::TooLarge {
                path: name,
                limit: lim.max_bytes,
            });
        }
        let from = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        scan.chunk(&buf, from, &name, lim)?;
    }
    finish(buf, &name)
}

/// `s` itself if at most [`MAX_QUOTED`] bytes, else its start and end around
/// the number of bytes left out.
pub fn shorten(s: &str) -> Cow<'_, str> {
    if s.len() <= MAX_QUOTED {
        return Cow::Borrowed(s);
    }
    let mut head = 40;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - 16;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    Cow::Owned(format!(
        "{}…[{} bytes]…{}",
        &s[..head],
        tail - head,
        &s[tail..]
    ))
}

/// `msg` with every word (run without spaces) longer than [`MAX_QUOTED`]
/// shortened: messages that quote their input stay readable whatever its size.
pub fn shorten_words(msg: &str) -> Cow<'_, str> {
    if !msg.split(' ').any(|w| w.len() > MAX_QUOTED) {
        return Cow::Borrowed(msg);
    }
    let words: Vec<Cow<str>> = msg.split(' ').map(shorten).collect();
    Cow::Owned(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<String, String> {
        check_text(
            bytes.to_vec(),
            "f",
            &Limits {
                max_bytes: 100,
                max_line: 10,
            },
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn bad_bytes_are_named_with_their_line_and_column() {
        assert_eq!(check(b"ab\ncd\n").unwrap(), "ab\ncd\n");
        assert_eq!(check(b"0123456789\r\n").unwrap(), "0123456789\r\n");
        assert_eq!(
            check(b"\xef\xbb\xbfip,actions=drop").unwrap_err(),
            "f:1:1: UTF-8 byte-order mark (bytes ef bb bf): save the file without it"
        );
        assert_eq!(
            check(b"ab\ncd\0").unwrap_err(),
            "f:2:3: NUL byte (a binary file?)"
        );
        assert_eq!(
            check(b"ab\n# \xff\n").unwrap_err(),
            "f:2:3: byte 0xff is not UTF-8 (the file must be UTF-8 text)"
        );
        assert_eq!(
            check(b"a\nb\n0123456789x").unwrap_err(),
            "f:3: line longer than the limit of 10 bytes"
        );
        assert_eq!(
            check(&[b'a'; 101]).unwrap_err(),
            "f: larger than the limit of 100 bytes"
        );
    }

    #[test]
    fn dev_zero_stops_at_once() {
        let e = read_text(Path::new("/dev/zero"), &Limits::default()).unwrap_err();
        assert_eq!(e.to_string(), "/dev/zero:1:1: NUL byte (a binary file?)");
    }

    #[test]
    fn long_words_are_shortened() {
        let long = "x".repeat(10_000_000);
        let msg = format!("unknown field `{long}`");
        let s = shorten_words(&msg);
        assert!(s.len() < 100, "{s}");
        assert!(s.starts_with("unknown field `xxxx"), "{s}");
        assert!(s.ends_with("xxx`"), "{s}");
        assert!(s.contains("bytes]"), "{s}");
        assert_eq!(shorten_words("short words stay"), "short words stay");
        // Never cuts a character in two.
        let s = shorten(&"é".repeat(100)).into_owned();
        assert!(s.starts_with("éé"));
    }
}
