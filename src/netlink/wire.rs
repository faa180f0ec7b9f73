//! Reading fixed-layout fields out of kernel bytes, and the one error every
//! netlink parser returns when the bytes do not follow the layout.
//!
//! Netlink headers are in host byte order; the values inside netfilter
//! attributes are in network byte order. Each reader names the order, so a
//! layout written as `u32_ne(msg, FLAGS)` or `u16_be(attr, PORT)` says which
//! one the kernel uses for that field.

use std::fmt;
use std::ops::Range;

/// Bytes that do not follow the layout they claim. `offset` counts from
/// the start of the datagram (or of the buffer a pure parser was given), so
/// the byte can be found in a recorded fixture with a hex dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub offset: usize,
    pub problem: &'static str,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed at byte {}: {}", self.offset, self.problem)
    }
}

impl std::error::Error for Malformed {}

fn array<const N: usize>(bytes: &[u8], field: Range<usize>) -> Option<[u8; N]> {
    bytes.get(field)?.try_into().ok()
}

pub fn u16_ne(bytes: &[u8], field: Range<usize>) -> Option<u16> {
    array(bytes, field).map(u16::from_ne_bytes)
}

pub fn u32_ne(bytes: &[u8], field: Range<usize>) -> Option<u32> {
    array(bytes, field).map(u32::from_ne_bytes)
}

pub fn i32_ne(bytes: &[u8], field: Range<usize>) -> Option<i32> {
    array(bytes, field).map(i32::from_ne_bytes)
}

pub fn u16_be(bytes: &[u8], field: Range<usize>) -> Option<u16> {
    array(bytes, field).map(u16::from_be_bytes)
}

pub fn u32_be(bytes: &[u8], field: Range<usize>) -> Option<u32> {
    array(bytes, field).map(u32::from_be_bytes)
}

pub fn bytes16(bytes: &[u8], field: Range<usize>) -> Option<[u8; 16]> {
    array(bytes, field)
}

pub fn bytes4(bytes: &[u8], field: Range<usize>) -> Option<[u8; 4]> {
    array(bytes, field)
}

/// Netlink messages and attributes start on 4-byte boundaries
/// (NLMSG_ALIGN, NLA_ALIGN). None when the padding would overflow.
pub fn align4(len: usize) -> Option<usize> {
    len.checked_add(3).map(|l| l & !3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_out_of_range_are_none() {
        let bytes = [0x12, 0x34, 0x56, 0x78];
        assert_eq!(u16_be(&bytes, 0..2), Some(0x1234));
        assert_eq!(u32_be(&bytes, 0..4), Some(0x1234_5678));
        assert_eq!(u32_ne(&bytes, 0..4), Some(u32::from_ne_bytes(bytes)));
        assert_eq!(u16_be(&bytes, 3..5), None);
        assert_eq!(u32_be(&bytes, 0..3), None);
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 3..1;
        assert_eq!(u16_ne(&bytes, backwards), None);
    }

    #[test]
    fn alignment() {
        assert_eq!(align4(0), Some(0));
        assert_eq!(align4(5), Some(8));
        assert_eq!(align4(8), Some(8));
        assert_eq!(align4(usize::MAX), None);
    }
}
