//! `net/sockstat` and `net/sockstat6`: `parse::sockstat::tcp_counts`.
//!
//! Input: the sockstat file, a NUL byte, the sockstat6 file (no NUL: all
//! of it is sockstat, and sockstat6 is empty).
//!
//! Asserts: no panic; counts found are the counts of the `TCP:` and
//! `TCP6:` lines, read back the same when written as the kernel does.
#![no_main]

use cnetstat::parse::sockstat::tcp_counts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (v4, v6) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let Some(counts) = tcp_counts(v4, v6) else {
        return;
    };
    // Whatever the split between the files, the sum reads back.
    let sockstat = format!(
        "sockets: used 1\nTCP: inuse {} orphan 0 tw {} alloc 1 mem 1\nUDP: inuse 0 mem 0\n",
        counts.in_use, counts.time_wait
    );
    let again = tcp_counts(sockstat.as_bytes(), b"TCP6: inuse 0\nUDP6: inuse 0\n");
    assert_eq!(again, Some(counts));
    assert!(v4.windows(4).any(|w| w == b"TCP:") && v6.windows(5).any(|w| w == b"TCP6:"));
});
