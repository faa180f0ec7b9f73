//! Netlink for the netlink targets: messages and attributes written as the
//! kernel writes them, independently of cnetstat's own request encoder, to
//! re-encode what a parser read; and a walk over a datagram that checks
//! where every `Malformed` points.

use std::ops::RangeInclusive;

use cnetstat::netlink::message::{walk_answer, DumpError, Message, Progress, NLMSG_HEADER_LEN};
use cnetstat::netlink::wire::Malformed;

/// Set on the type of an attribute that holds attributes; the kernel's
/// netfilter and rtnetlink nests carry it, and readers must mask it off.
const NLA_F_NESTED: u16 = 1 << 15;
const NLMSG_DONE: u16 = 3;
/// The kernel sets it on every message of a dump.
const NLM_F_MULTI: u16 = 0x2;

/// Attributes being written: `nla_len` (u16, header included), `nla_type`,
/// the payload, padding to 4 bytes. None once one is too long for its
/// 16-bit length, which only a re-encoding that grew past the original can
/// be: the caller then has nothing to compare.
pub struct Attrs(Option<Vec<u8>>);

impl Default for Attrs {
    fn default() -> Attrs {
        Attrs(Some(Vec::new()))
    }
}

impl Attrs {
    pub fn add(&mut self, kind: u16, payload: &[u8]) -> &mut Attrs {
        let len = 4 + payload.len();
        match (&mut self.0, u16::try_from(len)) {
            (Some(bytes), Ok(len16)) => {
                bytes.extend_from_slice(&len16.to_ne_bytes());
                bytes.extend_from_slice(&kind.to_ne_bytes());
                bytes.extend_from_slice(payload);
                bytes.resize(bytes.len() + (len.next_multiple_of(4) - len), 0);
            }
            _ => self.0 = None,
        }
        self
    }

    /// A string attribute, NUL-terminated as the kernel sends them.
    pub fn add_string(&mut self, kind: u16, text: &str) -> &mut Attrs {
        self.add(kind, &[text.as_bytes(), &[0]].concat())
    }

    /// A nest, flagged NLA_F_NESTED.
    pub fn add_nested(&mut self, kind: u16, inner: Attrs) -> &mut Attrs {
        match inner.0 {
            Some(payload) => self.add(kind | NLA_F_NESTED, &payload),
            None => {
                self.0 = None;
                self
            }
        }
    }
}

/// One message of a dump: header, family header, attributes.
pub fn message(kind: u16, family_header: &[u8], attrs: Attrs) -> Option<Vec<u8>> {
    let attrs = attrs.0?;
    let mut payload = family_header.to_vec();
    payload.resize(payload.len().next_multiple_of(4), 0);
    payload.extend_from_slice(&attrs);
    let len = u32::try_from(NLMSG_HEADER_LEN + payload.len()).ok()?;
    let mut bytes = len.to_ne_bytes().to_vec();
    bytes.extend_from_slice(&kind.to_ne_bytes());
    bytes.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
    bytes.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    bytes.extend_from_slice(&0u32.to_ne_bytes()); // port id
    bytes.extend_from_slice(&payload);
    Some(bytes)
}

/// NLMSG_DONE with status 0: a dump's end.
pub fn done() -> Vec<u8> {
    let mut bytes = (NLMSG_HEADER_LEN as u32 + 4).to_ne_bytes().to_vec();
    bytes.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    bytes.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
    bytes.extend_from_slice(&[0; 12]);
    bytes
}

/// The bytes of `message`'s datagram that a `Malformed` about it may name:
/// from its header to the end of its payload, the end included, since an
/// empty part (a payload, an attribute's) is named by where it would start.
pub fn span(message: &Message<'_>) -> RangeInclusive<usize> {
    message.payload_offset - NLMSG_HEADER_LEN..=message.payload_offset + message.payload.len()
}

pub fn assert_within(malformed: &Malformed, span: &RangeInclusive<usize>) {
    assert!(
        span.contains(&malformed.offset),
        "{malformed} lies outside its message, bytes {span:?}"
    );
}

/// `walk_answer` over one datagram, `parse` taking each data message.
/// Asserts that a `Malformed` that ends the walk points into the message
/// `parse` refused; or, when the walk itself found it (a bad header, an
/// NLMSG_ERROR without its code), at the header or the payload of a
/// message: a 4-byte boundary, at most the datagram's end.
pub fn walk<'a>(
    datagram: &'a [u8],
    mut parse: impl FnMut(&Message<'a>) -> Result<(), Malformed>,
) -> Result<Progress, DumpError> {
    let mut refused = None;
    let result = walk_answer(datagram, |message| {
        parse(message).inspect_err(|_| refused = Some(span(message)))
    });
    if let Err(DumpError::Malformed(malformed)) = &result {
        match &refused {
            Some(span) => assert_within(malformed, span),
            None => assert!(
                malformed.offset % 4 == 0 && malformed.offset <= datagram.len(),
                "{malformed} in a datagram of {} bytes",
                datagram.len()
            ),
        }
    }
    result
}
