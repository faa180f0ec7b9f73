//! `--state` values: `cli::parse_states`.
//!
//! Asserts: no panic; a list is accepted exactly when each of its
//! comma-separated words is, alone, and one word is not blank, and then it
//! is the union of theirs; sets hold only TCP states, never SYN_RECV
//! without NEW_SYN_RECV or the reverse; case does not matter.
#![no_main]

use cnetstat::cli::parse_states;
use cnetstat::model::{StateSet, TcpState};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let list = String::from_utf8_lossy(data);
    let parsed = parse_states(&list);
    if let Ok(set) = parsed {
        assert!(set.0 != 0 && set.0 & !StateSet::ALL.0 == 0, "{set:?}");
        assert_eq!(
            set.contains(TcpState::SynRecv),
            set.contains(TcpState::NewSynRecv)
        );
    }
    for cased in [list.to_ascii_uppercase(), list.to_ascii_lowercase()] {
        assert_eq!(
            parse_states(&cased).ok(),
            parsed.as_ref().ok().copied(),
            "{cased:?}"
        );
    }

    let mut union = StateSet(0);
    let mut all_words_known = true;
    for word in list.split(',').filter(|w| !w.trim().is_empty()) {
        match parse_states(word) {
            Ok(set) => union.0 |= set.0,
            Err(_) => all_words_known = false,
        }
    }
    let expected = (all_words_known && union.0 != 0).then_some(union);
    assert_eq!(parsed.ok(), expected, "{list:?}");
});
