//! Numbers and addresses as ASCII, both ways, without `fmt`: the kernel,
//! HTTP and the runtimes all write plain ASCII digits (and `str::parse`
//! alone would also take a leading `+`), and the hot output paths write a
//! number or an address per socket, where `fmt`'s calls into musl's
//! `memcpy` (in the static build) cost more than the rest of a row.

use std::io::Write as _;
use std::net::IpAddr;
use std::str::FromStr;

/// A non-empty run of ASCII digits that fits `T`; anything else is None.
pub fn parse_decimal<T: FromStr>(digits: &[u8]) -> Option<T> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Where digits go, one byte at a time: pushing a few bytes in a loop
/// beats `extend_from_slice`, a call into musl's `memcpy` for each number.
pub trait Ascii {
    fn push(&mut self, byte: u8);
}

impl Ascii for Vec<u8> {
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut impl Ascii, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(digit);
    }
}

/// Appends an address as `Display` writes it; IPv4 and v4-mapped IPv6,
/// nearly all of a node's sockets, digit by digit, other IPv6 through `fmt`.
pub fn push_ip(out: &mut impl Ascii, ip: IpAddr) {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => {
                b"::ffff:".iter().for_each(|&b| out.push(b));
                v4
            }
            None => {
                // 45 bytes is the longest IPv6 text (an embedded IPv4 tail).
                let mut text = [0u8; 48];
                let mut cursor = std::io::Cursor::new(&mut text[..]);
                let _ = write!(cursor, "{v6}");
                let len = cursor.position() as usize;
                text[..len].iter().for_each(|&b| out.push(b));
                return;
            }
        },
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_decimal(out, octet.into());
    }
}

/// An address's text on the stack, for where a `&str` is wanted.
pub struct IpText {
    bytes: [u8; 48],
    len: usize,
}

impl Ascii for IpText {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }
}

impl IpText {
    pub fn new(ip: IpAddr) -> IpText {
        let mut text = IpText {
            bytes: [0; 48],
            len: 0,
        };
        push_ip(&mut text, ip);
        text
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, dots, colons and hex letters are ever written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_only_and_in_range() {
        assert_eq!(parse_decimal::<u64>(b"4026531840"), Some(4026531840));
        assert_eq!(parse_decimal::<u32>(b"0"), Some(0));
        assert_eq!(parse_decimal::<u32>(b"4294967296"), None);
        assert_eq!(parse_decimal::<u64>(b"+1"), None);
        assert_eq!(parse_decimal::<u64>(b"-1"), None);
        assert_eq!(parse_decimal::<u64>(b""), None);
        assert_eq!(parse_decimal::<u64>(b"12a"), None);
        assert_eq!(parse_decimal::<u64>(b" 1"), None);
    }

    #[test]
    fn decimals_as_display_writes_them() {
        for n in [0, 7, 10, 65535, 4026531840, u64::MAX] {
            let mut line = b"x".to_vec();
            push_decimal(&mut line, n);
            assert_eq!(line, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn addresses_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "10.0.0.5",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:0.0.0.0",
            "fe80::1",
            "2001:db8:85a3::8a2e:370:7334",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(IpText::new(ip).as_str(), ip.to_string(), "{text}");
        }
    }
}
