//! Netlink messages (`struct nlmsghdr`, linux/netlink.h) without I/O: the
//! walk over one received datagram, how a dump ends, and building a request.
//!
//! ```text
//! 0 nlmsg_len (u32, header included)   4 nlmsg_type (u16)   6 nlmsg_flags (u16)
//! 8 nlmsg_seq (u32)                    12 nlmsg_pid (u32)   16 payload
//! ```
//!
//! All in host byte order. A datagram holds one or more messages, each
//! padded to 4 bytes. A dump is answered with data messages flagged
//! NLM_F_MULTI over one or more datagrams and ends with NLMSG_DONE, whose
//! payload is the dump's status (0 or -errno); a refused request, or the
//! acknowledgement a request with NLM_F_ACK asked for, is NLMSG_ERROR with
//! `struct nlmsgerr` (-errno, or 0 for the acknowledgement).

use std::fmt;
use std::io;
use std::ops::Range;

use super::attr::Attrs;
use super::wire::{self, Malformed};

pub const NLMSG_HEADER_LEN: usize = 16;
const NLMSG_LEN: Range<usize> = 0..4;
const NLMSG_TYPE: Range<usize> = 4..6;
const NLMSG_FLAGS: Range<usize> = 6..8;
const NLMSG_SEQ: Range<usize> = 8..12;
const NLMSG_PID: Range<usize> = 12..16;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;

pub const NLM_F_REQUEST: u16 = 0x01;
/// Set by the kernel on a dump's messages; only the tests' messages use it.
#[cfg(test)]
pub const NLM_F_MULTI: u16 = 0x02;
/// No request of cnetstat's asks for an acknowledgement; the tests' do.
#[cfg(test)]
pub const NLM_F_ACK: u16 = 0x04;
/// The dump saw the object set change under it (nf_tables, rtnetlink):
/// some objects may be missing or doubled, so the dump should be retried.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// The kernel applied the filter the request carried.
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
pub const NLM_F_DUMP: u16 = 0x300;
/// On NLMSG_ERROR: the echoed request was cut to its header.
const NLM_F_CAPPED: u16 = 0x100;
/// On NLMSG_ERROR: extended-ack attributes follow the echoed request.
const NLM_F_ACK_TLVS: u16 = 0x200;

/// `struct nlmsgerr`: the error code, then the request's header (and,
/// unless capped, its payload), then extended-ack attributes.
const NLMSGERR_ERROR: Range<usize> = 0..4;
const NLMSGERR_REQUEST: usize = 4;
const NLMSGERR_ATTR_MSG: u16 = 1;

/// One message of a datagram.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    // The header declared whole; nothing checks these: a request has its own socket.
    #[allow(dead_code)]
    pub seq: u32,
    #[allow(dead_code)]
    pub port_id: u32,
    pub payload: &'a [u8],
    /// Where the payload starts in the datagram.
    pub payload_offset: usize,
}

impl<'a> Message<'a> {
    pub fn malformed(&self, problem: &'static str) -> Malformed {
        Malformed {
            offset: self.payload_offset,
            problem,
        }
    }

    /// The attributes after a fixed family header of `header_len` bytes
    /// (`nfgenmsg`, `ifaddrmsg`, ...).
    pub fn attrs_after(&self, header_len: usize) -> Result<Attrs<'a>, Malformed> {
        let attrs = self
            .payload
            .get(header_len..)
            .ok_or(self.malformed("message shorter than its family header"))?;
        Ok(Attrs::new(attrs, self.payload_offset + header_len))
    }
}

/// The messages of one datagram in order; after a malformed header it
/// yields that error and ends, so no length can make it loop.
pub fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages { datagram, at: 0 }
}

pub struct Messages<'a> {
    datagram: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.datagram.get(self.at..).filter(|r| !r.is_empty())?;
        let offset = self.at;
        let fail = |at: &mut usize, problem| {
            *at = usize::MAX;
            Some(Err(Malformed { offset, problem }))
        };
        let header = rest.get(..NLMSG_HEADER_LEN);
        let (Some(len), Some(kind), Some(flags), Some(seq), Some(port_id)) = (
            header.and_then(|h| wire::u32_ne(h, NLMSG_LEN)),
            header.and_then(|h| wire::u16_ne(h, NLMSG_TYPE)),
            header.and_then(|h| wire::u16_ne(h, NLMSG_FLAGS)),
            header.and_then(|h| wire::u32_ne(h, NLMSG_SEQ)),
            header.and_then(|h| wire::u32_ne(h, NLMSG_PID)),
        ) else {
            return fail(&mut self.at, "shorter than a netlink header");
        };
        let len = len as usize;
        if len < NLMSG_HEADER_LEN {
            return fail(&mut self.at, "message length shorter than its header");
        }
        let Some(payload) = rest.get(NLMSG_HEADER_LEN..len) else {
            return fail(
                &mut self.at,
                "message length runs past the end of the datagram",
            );
        };
        self.at = offset + wire::align4(len).unwrap_or(usize::MAX).min(rest.len());
        Some(Ok(Message {
            kind,
            flags,
            seq,
            port_id,
            payload,
            payload_offset: offset + NLMSG_HEADER_LEN,
        }))
    }
}

/// What the kernel said about a request, other than data.
#[derive(Debug)]
pub enum DumpError {
    /// NLMSG_ERROR with an error code, or NLMSG_DONE with a negative
    /// status; `message` is the extended ack's text when the kernel sent one.
    Kernel {
        error: io::Error,
        message: Option<String>,
    },
    Malformed(Malformed),
}

impl From<Malformed> for DumpError {
    fn from(malformed: Malformed) -> DumpError {
        DumpError::Malformed(malformed)
    }
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Kernel {
                error,
                message: Some(message),
            } => write!(f, "the kernel refused it: {error} ({message})"),
            DumpError::Kernel { error, .. } => write!(f, "the kernel refused it: {error}"),
            DumpError::Malformed(malformed) => write!(f, "reply {malformed}"),
        }
    }
}

/// What one datagram of an answer said about the whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// NLMSG_DONE, or the acknowledgement (NLMSG_ERROR 0), was seen.
    pub done: bool,
    /// A message carried NLM_F_DUMP_FILTERED.
    pub dump_filtered: bool,
    /// A message carried NLM_F_DUMP_INTR.
    pub interrupted: bool,
}

/// Walks one datagram of an answer: hands every data message to `each`,
/// and stops at the message that ends the answer. Control messages below
/// NLMSG_MIN_TYPE other than DONE and ERROR (NOOP, OVERRUN) are skipped.
pub fn walk_answer<'a>(
    datagram: &'a [u8],
    mut each: impl FnMut(&Message<'a>) -> Result<(), Malformed>,
) -> Result<Progress, DumpError> {
    const NLMSG_MIN_TYPE: u16 = 0x10;
    let mut progress = Progress::default();
    for message in messages(datagram) {
        let message = message?;
        progress.dump_filtered |= message.flags & NLM_F_DUMP_FILTERED != 0;
        progress.interrupted |= message.flags & NLM_F_DUMP_INTR != 0;
        match message.kind {
            NLMSG_DONE => {
                // Old kernels sent a DONE without a status.
                let status = wire::i32_ne(message.payload, 0..4).unwrap_or(0);
                if status < 0 {
                    return Err(DumpError::Kernel {
                        error: io::Error::from_raw_os_error(status.saturating_neg()),
                        message: None,
                    });
                }
                progress.done = true;
                return Ok(progress);
            }
            NLMSG_ERROR => {
                let errno = wire::i32_ne(message.payload, NLMSGERR_ERROR)
                    .ok_or(message.malformed("NLMSG_ERROR without an error code"))?;
                if errno == 0 {
                    progress.done = true;
                    return Ok(progress);
                }
                return Err(DumpError::Kernel {
                    error: io::Error::from_raw_os_error(errno.saturating_neg()),
                    message: extended_ack_message(&message),
                });
            }
            kind if kind < NLMSG_MIN_TYPE => {}
            _ => each(&message)?,
        }
    }
    Ok(progress)
}

/// NLMSGERR_ATTR_MSG of an error sent to a socket with NETLINK_EXT_ACK.
fn extended_ack_message(error: &Message<'_>) -> Option<String> {
    if error.flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let request = error.payload.get(NLMSGERR_REQUEST..)?;
    let echoed = if error.flags & NLM_F_CAPPED != 0 {
        NLMSG_HEADER_LEN
    } else {
        wire::align4(wire::u32_ne(request, NLMSG_LEN)? as usize)?
    };
    let attrs = request.get(echoed..)?;
    Attrs::new(attrs, 0)
        .filter_map(Result::ok)
        .find(|a| a.kind() == NLMSGERR_ATTR_MSG)
        .and_then(|a| a.string().ok())
}

/// A request under construction: header, family header, attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// `seq` and the port id stay 0: each request gets its own socket, so
    /// nothing else can answer on it.
    pub fn new(kind: u16, flags: u16, family_header: &[u8]) -> Request {
        let mut bytes = vec![0u8; NLMSG_HEADER_LEN];
        bytes[NLMSG_TYPE].copy_from_slice(&kind.to_ne_bytes());
        bytes[NLMSG_FLAGS].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        bytes.extend_from_slice(family_header);
        bytes.resize(wire::align4(bytes.len()).unwrap_or(bytes.len()), 0);
        let mut request = Request { bytes };
        request.set_len();
        request
    }

    pub fn attr(mut self, kind: u16, payload: &[u8]) -> Request {
        super::attr::push(&mut self.bytes, kind, payload);
        self.set_len();
        self
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn set_len(&mut self) {
        let len = u32::try_from(self.bytes.len()).expect("a request fits 4 GiB");
        self.bytes[NLMSG_LEN].copy_from_slice(&len.to_ne_bytes());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A message as the kernel writes it: header, payload, padding.
    pub(crate) fn message(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
        let len = (NLMSG_HEADER_LEN + payload.len()) as u32;
        let mut bytes = len.to_ne_bytes().to_vec();
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&flags.to_ne_bytes());
        bytes.extend_from_slice(&7u32.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(payload);
        bytes.resize(wire::align4(bytes.len()).unwrap(), 0);
        bytes
    }

    pub(crate) fn done(status: i32) -> Vec<u8> {
        message(NLMSG_DONE, NLM_F_MULTI, &status.to_ne_bytes())
    }

    type Walked = (Result<Progress, DumpError>, Vec<(u16, Vec<u8>)>);

    fn walk(datagram: &[u8]) -> Walked {
        let mut seen = Vec::new();
        let result = walk_answer(datagram, |m| {
            seen.push((m.kind, m.payload.to_vec()));
            Ok(())
        });
        (result, seen)
    }

    #[test]
    fn data_messages_then_done() {
        let datagram = [
            message(0x100, NLM_F_MULTI, &[1, 2, 3]),
            message(0x100, NLM_F_MULTI, &[4]),
            done(0),
            message(0x100, NLM_F_MULTI, &[9]),
        ]
        .concat();
        let (progress, seen) = walk(&datagram);
        assert_eq!(
            progress.unwrap(),
            Progress {
                done: true,
                ..Progress::default()
            }
        );
        assert_eq!(seen, vec![(0x100, vec![1, 2, 3]), (0x100, vec![4])]);
    }

    #[test]
    fn a_datagram_without_done_asks_for_more() {
        let (progress, seen) = walk(&message(0x100, NLM_F_MULTI | NLM_F_DUMP_FILTERED, &[]));
        let progress = progress.unwrap();
        assert!(!progress.done);
        assert!(progress.dump_filtered);
        assert!(!progress.interrupted);
        assert_eq!(seen.len(), 1);
        let (progress, _) = walk(&message(0x100, NLM_F_MULTI | NLM_F_DUMP_INTR, &[]));
        assert!(progress.unwrap().interrupted);
        let (progress, _) = walk(&[]);
        assert_eq!(progress.unwrap(), Progress::default());
    }

    #[test]
    fn noop_is_skipped() {
        let datagram = [message(1, 0, &[]), done(0)].concat();
        let (progress, seen) = walk(&datagram);
        assert!(progress.unwrap().done);
        assert!(seen.is_empty());
    }

    #[test]
    fn done_with_a_negative_status_is_a_kernel_error() {
        let (result, _) = walk(&done(-libc::EINTR));
        assert!(
            matches!(result, Err(DumpError::Kernel { ref error, .. }) if error.raw_os_error() == Some(libc::EINTR)),
            "{result:?}"
        );
        // Kernels before 2.6.x sent DONE with no payload.
        let (result, _) = walk(&message(NLMSG_DONE, NLM_F_MULTI, &[]));
        assert!(result.unwrap().done);
    }

    #[test]
    fn error_zero_is_an_acknowledgement() {
        let mut payload = 0i32.to_ne_bytes().to_vec();
        payload.extend_from_slice(&message(0x105, NLM_F_REQUEST, &[])[..16]);
        let (result, _) = walk(&message(NLMSG_ERROR, 0, &payload));
        assert!(result.unwrap().done);
    }

    #[test]
    fn error_carries_errno_and_extended_ack_text() {
        let request = message(0x101, NLM_F_REQUEST | NLM_F_DUMP, &[2, 0, 0, 0]);
        let mut payload = (-libc::EOPNOTSUPP).to_ne_bytes().to_vec();
        payload.extend_from_slice(&request);
        payload.extend_from_slice(&crate::netlink::attr::tests::attr(
            NLMSGERR_ATTR_MSG,
            b"filter needs a family\0",
        ));
        let (result, _) = walk(&message(NLMSG_ERROR, NLM_F_ACK_TLVS, &payload));
        let err = result.unwrap_err();
        assert!(
            matches!(&err, DumpError::Kernel { error, message: Some(m) }
                if error.raw_os_error() == Some(libc::EOPNOTSUPP) && m == "filter needs a family"),
            "{err:?}"
        );
        assert!(err.to_string().contains("filter needs a family"), "{err}");

        // Capped: only the request's header is echoed.
        let mut payload = (-libc::EINVAL).to_ne_bytes().to_vec();
        payload.extend_from_slice(&request[..16]);
        payload.extend_from_slice(&crate::netlink::attr::tests::attr(
            NLMSGERR_ATTR_MSG,
            b"bad\0",
        ));
        let (result, _) = walk(&message(
            NLMSG_ERROR,
            NLM_F_ACK_TLVS | NLM_F_CAPPED,
            &payload,
        ));
        assert!(
            matches!(result, Err(DumpError::Kernel { message: Some(ref m), .. }) if m == "bad"),
            "{result:?}"
        );

        let (result, _) = walk(&message(NLMSG_ERROR, 0, &[0; 2]));
        assert!(matches!(result, Err(DumpError::Malformed(_))), "{result:?}");
    }

    #[test]
    fn malformed_lengths_never_loop() {
        for len in [0u32, 8, 15] {
            let mut datagram = message(0x100, 0, &[0; 8]);
            datagram[0..4].copy_from_slice(&len.to_ne_bytes());
            let all: Vec<_> = messages(&datagram).collect();
            assert_eq!(all.len(), 1, "{len}");
            assert_eq!(all[0].as_ref().unwrap_err().offset, 0);
        }
        let mut datagram = [message(0x100, 0, &[]), message(0x100, 0, &[0; 4])].concat();
        datagram[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        let all: Vec<_> = messages(&datagram).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].as_ref().unwrap_err().offset, 16);
        assert_eq!(messages(&datagram[..10]).count(), 1);
        let (result, seen) = walk(&datagram);
        assert!(matches!(
            result,
            Err(DumpError::Malformed(Malformed { offset: 16, .. }))
        ));
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn message_fields_and_family_header() {
        let datagram = message(0x0106, NLM_F_MULTI, &[2, 0, 0, 5, 9, 9]);
        let m = messages(&datagram).next().unwrap().unwrap();
        assert_eq!(
            (m.kind, m.flags, m.seq, m.port_id),
            (0x0106, NLM_F_MULTI, 7, 0)
        );
        assert_eq!(m.payload_offset, 16);
        assert!(m.attrs_after(4).is_ok());
        assert!(m.attrs_after(7).is_err());
    }

    #[test]
    fn request_layout() {
        let request =
            Request::new(0x0101, NLM_F_DUMP, &[2, 0, 0, 0]).attr(3, &0x10u32.to_be_bytes());
        let mut expected = 28u32.to_ne_bytes().to_vec();
        expected.extend_from_slice(&0x0101u16.to_ne_bytes());
        expected.extend_from_slice(&0x0301u16.to_ne_bytes());
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&[2, 0, 0, 0]);
        expected.extend_from_slice(&8u16.to_ne_bytes());
        expected.extend_from_slice(&3u16.to_ne_bytes());
        expected.extend_from_slice(&[0, 0, 0, 0x10]);
        assert_eq!(request.bytes(), &expected[..]);
    }
}
