//! Netlink attributes (`struct nlattr`, linux/netlink.h): a 4-byte header
//! of length and type, the payload, and padding to 4 bytes. Nested
//! attributes are the same walk over a payload.
//!
//! ```text
//! 0 nla_len (u16, host order, header included, padding excluded)
//! 2 nla_type (u16, host order; bit 15 NLA_F_NESTED, bit 14 NLA_F_NET_BYTEORDER)
//! 4 payload, then padding to a multiple of 4
//! ```
//!
//! Netfilter sets NLA_F_NESTED on nests it emits but older kernels did not,
//! so callers decide nesting by attribute type, not by the flag.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::wire::{self, Malformed};

pub const NLA_HEADER_LEN: usize = 4;
const NLA_LEN: Range<usize> = 0..2;
const NLA_TYPE: Range<usize> = 2..4;
pub const NLA_F_NESTED: u16 = 1 << 15;
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// One attribute, borrowed from the datagram.
#[derive(Clone, Copy, Debug)]
pub struct Attr<'a> {
    kind: u16,
    payload: &'a [u8],
    /// Where the payload starts in the datagram.
    offset: usize,
}

impl<'a> Attr<'a> {
    /// The type with the NESTED and NET_BYTEORDER flags masked off.
    pub fn kind(&self) -> u16 {
        self.kind
    }

    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The attributes inside this one.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload, self.offset)
    }

    pub fn malformed(&self, problem: &'static str) -> Malformed {
        Malformed {
            offset: self.offset,
            problem,
        }
    }

    /// The payload when it is exactly `len` bytes long.
    fn exact(&self, len: usize, problem: &'static str) -> Result<&'a [u8], Malformed> {
        if self.payload.len() == len {
            Ok(self.payload)
        } else {
            Err(self.malformed(problem))
        }
    }

    pub fn u8(&self) -> Result<u8, Malformed> {
        Ok(self.exact(1, "attribute is not 1 byte long")?[0])
    }

    pub fn be16(&self) -> Result<u16, Malformed> {
        let p = self.exact(2, "attribute is not a 2-byte value")?;
        Ok(u16::from_be_bytes([p[0], p[1]]))
    }

    pub fn be32(&self) -> Result<u32, Malformed> {
        let p = self.exact(4, "attribute is not a 4-byte value")?;
        wire::u32_be(p, 0..4).ok_or(self.malformed("attribute is not a 4-byte value"))
    }

    pub fn ne32(&self) -> Result<u32, Malformed> {
        let p = self.exact(4, "attribute is not a 4-byte value")?;
        wire::u32_ne(p, 0..4).ok_or(self.malformed("attribute is not a 4-byte value"))
    }

    pub fn be64(&self) -> Result<u64, Malformed> {
        let p = self.exact(8, "attribute is not an 8-byte value")?;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(p);
        Ok(u64::from_be_bytes(bytes))
    }

    /// A NUL-terminated string (NLA_STRING / NLA_NUL_STRING); the kernel
    /// always sends the NUL, a string without one is taken whole.
    pub fn string(&self) -> Result<String, Malformed> {
        let text = self.payload.split(|&b| b == 0).next().unwrap_or_default();
        std::str::from_utf8(text)
            .map(str::to_owned)
            .map_err(|_| self.malformed("string attribute is not UTF-8"))
    }

    pub fn ipv4(&self) -> Result<Ipv4Addr, Malformed> {
        let p = self.exact(4, "IPv4 address attribute is not 4 bytes long")?;
        Ok(Ipv4Addr::new(p[0], p[1], p[2], p[3]))
    }

    pub fn ipv6(&self) -> Result<Ipv6Addr, Malformed> {
        let p = self.exact(16, "IPv6 address attribute is not 16 bytes long")?;
        wire::bytes16(p, 0..16)
            .map(Ipv6Addr::from)
            .ok_or(self.malformed("IPv6 address attribute is not 16 bytes long"))
    }

    /// A 4- or 16-byte address, as rtnetlink sends them.
    pub fn ip(&self) -> Result<IpAddr, Malformed> {
        match self.payload.len() {
            4 => self.ipv4().map(IpAddr::V4),
            16 => self.ipv6().map(IpAddr::V6),
            _ => Err(self.malformed("address attribute is neither 4 nor 16 bytes long")),
        }
    }
}

/// The attributes of a payload in order. After the first malformed one it
/// yields that error and then ends, so a bad length cannot loop.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    bytes: &'a [u8],
    base: usize,
    at: usize,
}

impl<'a> Attrs<'a> {
    /// Walks `bytes`, whose first byte is at `base` in the datagram.
    pub fn new(bytes: &'a [u8], base: usize) -> Attrs<'a> {
        Attrs { bytes, base, at: 0 }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.bytes.get(self.at..).filter(|r| !r.is_empty())?;
        let offset = self.base + self.at;
        let malformed = |problem| Some(Err(Malformed { offset, problem }));
        let (Some(len), Some(raw_type)) = (
            wire::u16_ne(rest, NLA_LEN).map(usize::from),
            wire::u16_ne(rest, NLA_TYPE),
        ) else {
            self.at = self.bytes.len();
            return malformed("shorter than an attribute header");
        };
        let Some(payload) = rest
            .get(NLA_HEADER_LEN..len)
            .filter(|_| len >= NLA_HEADER_LEN)
        else {
            self.at = self.bytes.len();
            return malformed(if len < NLA_HEADER_LEN {
                "attribute length shorter than its header"
            } else {
                "attribute length runs past the end of its container"
            });
        };
        // The padding after the last attribute may be missing.
        self.at += wire::align4(len).unwrap_or(len).min(rest.len());
        Some(Ok(Attr {
            kind: raw_type & NLA_TYPE_MASK,
            payload,
            offset: offset + NLA_HEADER_LEN,
        }))
    }
}

/// Appends one attribute, padded, to a request being built.
pub fn push(request: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = NLA_HEADER_LEN + payload.len();
    let len16 = u16::try_from(len).expect("a request attribute fits 64 KiB");
    request.extend_from_slice(&len16.to_ne_bytes());
    request.extend_from_slice(&kind.to_ne_bytes());
    request.extend_from_slice(payload);
    request.resize(request.len() + (wire::align4(len).unwrap_or(len) - len), 0);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An attribute as the kernel writes it, padding included.
    pub(crate) fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        push(&mut bytes, kind, payload);
        bytes
    }

    type Walked = Vec<Result<(u16, Vec<u8>, usize), Malformed>>;

    fn walk(bytes: &[u8]) -> Walked {
        Attrs::new(bytes, 100)
            .map(|a| a.map(|a| (a.kind(), a.payload().to_vec(), a.offset())))
            .collect()
    }

    #[test]
    fn walks_padded_attributes_with_datagram_offsets() {
        let bytes = [attr(1, &[7]), attr(2, &[1, 2, 3, 4]), attr(3, b"eth0\0")].concat();
        assert_eq!(bytes.len(), 8 + 8 + 12);
        assert_eq!(
            walk(&bytes),
            vec![
                Ok((1, vec![7], 104)),
                Ok((2, vec![1, 2, 3, 4], 112)),
                Ok((3, b"eth0\0".to_vec(), 120)),
            ]
        );
    }

    #[test]
    fn last_attribute_may_lack_its_padding() {
        let mut bytes = attr(1, &[7]);
        bytes.truncate(5);
        assert_eq!(walk(&bytes), vec![Ok((1, vec![7], 104))]);
    }

    #[test]
    fn flags_are_masked_from_the_type() {
        let bytes = attr(4 | NLA_F_NESTED, &attr(1 | NLA_F_NET_BYTEORDER, &[0, 80]));
        let outer = Attrs::new(&bytes, 0).next().unwrap().unwrap();
        assert_eq!(outer.kind(), 4);
        let inner = outer.nested().next().unwrap().unwrap();
        assert_eq!(inner.kind(), 1);
        assert_eq!(inner.be16(), Ok(80));
        assert_eq!(inner.offset(), 8);
    }

    #[test]
    fn bad_lengths_end_the_walk_with_an_error() {
        for len in [0u16, 3] {
            let mut bytes = attr(1, &[0; 4]);
            bytes[0..2].copy_from_slice(&len.to_ne_bytes());
            let walked = walk(&bytes);
            assert_eq!(walked.len(), 1, "{len}");
            assert_eq!(walked[0].as_ref().unwrap_err().offset, 100);
        }
        let mut bytes = [attr(1, &[1]), attr(2, &[0; 4])].concat();
        bytes[8..10].copy_from_slice(&200u16.to_ne_bytes());
        let walked = walk(&bytes);
        assert_eq!(walked.len(), 2);
        assert!(walked[0].is_ok());
        assert_eq!(walked[1].as_ref().unwrap_err().offset, 108);
        assert_eq!(walk(&[1, 0]).len(), 1);
        assert!(walk(&[]).is_empty());
    }

    #[test]
    fn typed_values_check_their_length() {
        let get = |payload: &[u8]| {
            let bytes = attr(1, payload);
            let a = Attrs::new(&bytes, 0).next().unwrap().unwrap();
            (a.u8().ok(), a.be16().ok(), a.be32().ok(), a.be64().ok())
        };
        assert_eq!(get(&[5]), (Some(5), None, None, None));
        assert_eq!(get(&[1, 2]), (None, Some(0x102), None, None));
        assert_eq!(get(&[0, 0, 1, 2]), (None, None, Some(0x102), None));
        assert_eq!(
            get(&[0, 0, 0, 0, 0, 0, 1, 2]),
            (None, None, None, Some(0x102))
        );
    }

    #[test]
    fn strings_and_addresses() {
        let one = |payload: &[u8]| attr(1, payload);
        fn first(bytes: &[u8]) -> Attr<'_> {
            Attrs::new(bytes, 0).next().unwrap().unwrap()
        }
        assert_eq!(first(&one(b"nat\0")).string().unwrap(), "nat");
        assert_eq!(first(&one(b"nat")).string().unwrap(), "nat");
        assert!(first(&one(&[0xff, 0])).string().is_err());
        assert_eq!(
            first(&one(&[198, 18, 0, 1])).ip().unwrap(),
            "198.18.0.1".parse::<IpAddr>().unwrap()
        );
        let v6: Ipv6Addr = "2001:2::1".parse().unwrap();
        assert_eq!(first(&one(&v6.octets())).ip().unwrap(), IpAddr::V6(v6));
        assert!(first(&one(&[1, 2, 3])).ip().is_err());
    }

    #[test]
    fn push_pads_to_four_bytes() {
        let mut request = vec![9];
        push(&mut request, 3, &[1, 2, 3, 4, 5]);
        let mut expected = vec![9];
        expected.extend_from_slice(&9u16.to_ne_bytes());
        expected.extend_from_slice(&3u16.to_ne_bytes());
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 0, 0, 0]);
        assert_eq!(request, expected);
    }
}
