//! Identifier shapes, `parse::ids`: container ids, pod UIDs, ASCII
//! strings and labelled pods.
//!
//! Asserts: no panic; the predicates agree with their definitions written
//! independently here; `ascii_string` keeps one char per byte and is the
//! UTF-8 reading of ASCII input.
#![no_main]

use cnetstat::parse::ids::{ascii_string, is_container_id, is_pod_uid, labelled_pod};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let hex_lower = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    assert_eq!(
        is_container_id(data),
        data.len() == 64 && data.iter().all(hex_lower)
    );

    let uuid = data.len() == 36
        && data
            .split(|&b| b == b'-')
            .map(<[u8]>::len)
            .eq([8, 4, 4, 4, 12])
        && data
            .iter()
            .filter(|&&b| b != b'-')
            .all(u8::is_ascii_hexdigit);
    let hash = data.len() == 32 && data.iter().all(u8::is_ascii_hexdigit);
    assert_eq!(is_pod_uid(data), uuid || hash);

    let text = ascii_string(data);
    assert_eq!(text.chars().count(), data.len());
    if data.is_ascii() {
        assert_eq!(text.as_bytes(), data);
    }

    let half = data.len() / 2;
    let (a, b) = (
        String::from_utf8_lossy(&data[..half]),
        String::from_utf8_lossy(&data[half..]),
    );
    let pod = labelled_pod(Some(&a), Some(&b), Some(&text)).unwrap();
    assert_eq!(
        (pod.namespace, pod.name, pod.uid),
        (a.to_string(), b.to_string(), Some(text))
    );
    assert_eq!(labelled_pod(None, Some(&b), None), None);
    assert_eq!(labelled_pod(Some(&a), None, None), None);
});
