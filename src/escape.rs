//! The one escaper for everything cnetstat prints: container, pod and
//! process names come from the node, and a compromised container can name
//! itself anything. Every character of the Unicode categories Cc, Cf, Zl and
//! Zp — C0 and C1 controls, DEL, bidi overrides and isolates, zero-width
//! characters, the BOM, the soft hyphen, tag characters, line and paragraph
//! separators — is shown as an escape, in the table and on stderr as
//! `\x1b` or `\u{202e}`, in JSON as `\u202e`, so no name can drive a
//! terminal, reorder what a reader sees, or hide in plain sight.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// The code points of Cc, Cf, Zl and Zp (Unicode 16; checked against
/// Python's unicodedata 14 plus the Egyptian format controls U+13439–1343F
/// that Unicode 15 added), as inclusive ranges in order.
const INVISIBLE: [(u32, u32); 23] = [
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

pub fn is_invisible(c: char) -> bool {
    let c = c as u32;
    INVISIBLE
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Text for a terminal: `\n`, `\t`, `\r`, `\x1b` for ASCII controls,
/// `\u{202e}` for the rest; a backslash is doubled only when something was
/// escaped, so an escape can never be forged by a name that spells one.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_invisible) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\t' => escaped.push_str("\\t"),
            '\r' => escaped.push_str("\\r"),
            '\\' => escaped.push_str("\\\\"),
            c if is_invisible(c) && (c as u32) < 0x80 => {
                let _ = write!(escaped, "\\x{:02x}", c as u32);
            }
            c if is_invisible(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// serde_json's formatter with one change: besides what JSON requires, it
/// writes every invisible character as `\uXXXX` (a surrogate pair above
/// U+FFFF), so a log viewer shows it harmlessly. The value is unchanged for
/// any JSON reader.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonFormatter;

impl serde_json::ser::Formatter for JsonFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if !is_invisible(c) {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// `value` as one line of JSON, escaped by [`JsonFormatter`].
pub fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    write_json(&mut out, value)?;
    Ok(out)
}

pub fn write_json<W: io::Write, T: serde::Serialize + ?Sized>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(writer, JsonFormatter);
    value.serialize(&mut serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One character of every class, and its escapes in the table and in JSON.
    const CASES: [(char, &str, &str); 16] = [
        ('\u{0}', "\\x00", "\\u0000"),
        ('\u{1b}', "\\x1b", "\\u001b"),
        ('\u{7f}', "\\x7f", "\\u007f"),
        ('\u{85}', "\\u{85}", "\\u0085"),
        ('\u{9b}', "\\u{9b}", "\\u009b"),
        ('\u{ad}', "\\u{ad}", "\\u00ad"),
        ('\u{200b}', "\\u{200b}", "\\u200b"),
        ('\u{200d}', "\\u{200d}", "\\u200d"),
        ('\u{202e}', "\\u{202e}", "\\u202e"),
        ('\u{2066}', "\\u{2066}", "\\u2066"),
        ('\u{2069}', "\\u{2069}", "\\u2069"),
        ('\u{2028}', "\\u{2028}", "\\u2028"),
        ('\u{2029}', "\\u{2029}", "\\u2029"),
        ('\u{feff}', "\\u{feff}", "\\ufeff"),
        ('\u{e0001}', "\\u{e0001}", "\\udb40\\udc01"),
        ('\u{e007f}', "\\u{e007f}", "\\udb40\\udc7f"),
    ];

    #[test]
    fn every_invisible_class_is_escaped_in_the_table_and_in_json() {
        for (c, table, json) in CASES {
            let name = format!("a{c}b");
            assert_eq!(for_terminal(&name), format!("a{table}b"), "{:x}", c as u32);
            let encoded = String::from_utf8(to_json(&name).unwrap()).unwrap();
            assert_eq!(encoded, format!("\"a{json}b\""), "{:x}", c as u32);
            assert!(encoded.is_ascii());
            assert_eq!(serde_json::from_str::<String>(&encoded).unwrap(), name);
        }
    }

    #[test]
    fn visible_text_is_left_alone() {
        for text in [
            "nginx",
            "web-0",
            "café",
            "名前",
            "a\\b",
            "emoji 🚀",
            "\u{a0}",
        ] {
            assert!(matches!(for_terminal(text), Cow::Borrowed(_)), "{text}");
            let encoded = String::from_utf8(to_json(text).unwrap()).unwrap();
            assert_eq!(encoded, serde_json::to_string(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn an_escaped_name_cannot_forge_another_escape() {
        assert_eq!(for_terminal("\\x1b\u{1b}"), "\\\\x1b\\x1b");
    }

    #[test]
    fn the_table_of_ranges_is_sorted_and_disjoint() {
        assert!(INVISIBLE.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(INVISIBLE.iter().all(|(a, b)| a <= b));
        assert!(!is_invisible(' ') && !is_invisible('a') && !is_invisible('\u{10ffff}'));
    }
}
