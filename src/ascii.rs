//! Number parsing shared by the byte parsers: the kernel, HTTP and the
//! runtimes all write plain ASCII digits, and `str::parse` alone would also
//! take a leading `+`.

use std::str::FromStr;

/// A non-empty run of ASCII digits that fits `T`; anything else is None.
pub fn parse_decimal<T: FromStr>(digits: &[u8]) -> Option<T> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
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
}
