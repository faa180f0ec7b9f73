//! The escaper, `escape::for_terminal` and `escape::to_json`, on any text
//! (the input read as UTF-8, invalid bytes replaced).
//!
//! Asserts, for the terminal: the output holds no invisible character
//! (`escape::is_invisible`); text without one is returned as it is, and
//! otherwise the output reads back, escape by escape, to exactly the text,
//! so no name can forge an escape. For JSON, as a string, an object key
//! and a list element: the output is valid JSON holding no invisible
//! character that reads back to exactly the text, and a visible text is
//! written as plain serde_json writes it.
#![no_main]

use std::borrow::Cow;
use std::collections::BTreeMap;

use cnetstat::escape::{for_terminal, is_invisible, to_json, write_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let visible = !text.chars().any(is_invisible);

    let shown = for_terminal(text);
    assert!(!shown.chars().any(is_invisible), "{shown:?}");
    match &shown {
        Cow::Borrowed(same) => {
            assert!(visible);
            assert_eq!(*same, text);
        }
        Cow::Owned(escaped) => {
            assert!(!visible);
            assert_eq!(unescape(escaped).as_deref(), Some(text), "{escaped:?}");
        }
    }

    let json = to_json(text).unwrap();
    let mut written = Vec::new();
    write_json(&mut written, text).unwrap();
    assert_eq!(written, json);
    check_json(&json);
    assert_eq!(serde_json::from_slice::<String>(&json).unwrap(), text);
    if visible {
        assert_eq!(json, serde_json::to_vec(text).unwrap());
    }

    let object = BTreeMap::from([(text, vec![text, "x"])]);
    let json = to_json(&object).unwrap();
    check_json(&json);
    let again: BTreeMap<String, Vec<String>> = serde_json::from_slice(&json).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again.get(text).map(Vec::as_slice),
        Some(&[text.to_owned(), "x".to_owned()][..])
    );
});

fn check_json(json: &[u8]) {
    let json = std::str::from_utf8(json).expect("JSON is UTF-8");
    assert!(!json.chars().any(is_invisible), "{json:?}");
}

/// Reads `for_terminal`'s escapes back: `\n`, `\t`, `\r`, `\\`, `\xHH`
/// and `\u{H…}`. None when something else follows a backslash.
fn unescape(escaped: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let c = match chars.next()? {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '\\' => '\\',
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                (hex.len() == 2).then_some(())?;
                char::from(u8::from_str_radix(&hex, 16).ok()?)
            }
            'u' => {
                (chars.next()? == '{').then_some(())?;
                let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            _ => return None,
        };
        out.push(c);
    }
    Some(out)
}
