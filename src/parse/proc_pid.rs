//! What the per-process files of procfs hold: namespace and socket links,
//! `comm`, and the records getdents64(2) returns for `fd/`.

use std::ffi::CStr;

use crate::text::parse_decimal;

/// `net:[4026531840]` → 4026531840.
pub fn parse_ns_link(target: &[u8]) -> Option<u64> {
    parse_decimal(target.strip_prefix(b"net:[")?.strip_suffix(b"]")?)
}

/// `socket:[9222]` → 9222; other descriptors (files, pipes, anon inodes) → None.
pub fn parse_socket_link(target: &[u8]) -> Option<u64> {
    parse_decimal(target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
}

/// The process name from `comm`, without its newline.
pub fn comm_name(comm: &[u8]) -> &[u8] {
    comm.strip_suffix(b"\n").unwrap_or(comm)
}

/// The names in a buffer of `linux_dirent64` records (getdents64(2)):
/// `d_ino: u64, d_off: i64, d_reclen: u16, d_type: u8, d_name: [u8]` with
/// `d_name` NUL-terminated inside `d_reclen`. A malformed record ends the
/// walk rather than reading past the buffer.
pub fn dirent_names(mut records: &[u8]) -> impl Iterator<Item = &CStr> {
    const NAME_OFFSET: usize = 19;
    std::iter::from_fn(move || {
        let reclen = usize::from(u16::from_ne_bytes([*records.get(16)?, *records.get(17)?]));
        let record = records.get(..reclen).filter(|_| reclen > NAME_OFFSET)?;
        records = &records[reclen..];
        CStr::from_bytes_until_nul(&record[NAME_OFFSET..]).ok()
    })
}

/// The effective capability set from `/proc/<pid>/status`
/// (`CapEff:\t000001ffffffffff`).
pub fn effective_capabilities(status: &[u8]) -> Option<u64> {
    let hex = status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"CapEff:"))?
        .trim_ascii();
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_and_socket_links() {
        assert_eq!(parse_ns_link(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link(b"mnt:[4026531840]"), None);
        assert_eq!(parse_ns_link(b"net:[]"), None);
        assert_eq!(parse_ns_link(b"net:[12a]"), None);
        assert_eq!(parse_socket_link(b"socket:[9222]"), Some(9222));
        assert_eq!(parse_socket_link(b"/dev/null"), None);
        assert_eq!(parse_socket_link(b"anon_inode:[eventpoll]"), None);
        assert_eq!(parse_socket_link(b"socket:[99999999999999999999999]"), None);
    }

    #[test]
    fn dirent_records_and_malformed_ones() {
        fn record(name: &str) -> Vec<u8> {
            let mut bytes = vec![0u8; 19];
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(0);
            while bytes.len() % 8 != 0 {
                bytes.push(0);
            }
            let reclen = bytes.len() as u16;
            bytes[16..18].copy_from_slice(&reclen.to_ne_bytes());
            bytes
        }
        let mut buf = [record("."), record(".."), record("3"), record("17")].concat();
        let names: Vec<&CStr> = dirent_names(&buf).collect();
        assert_eq!(names, [c".", c"..", c"3", c"17"]);
        // A length past the end, or too short to hold a name, ends the walk.
        let end = buf.len();
        buf.extend_from_slice(&record("99"));
        buf[end + 16..end + 18].copy_from_slice(&500u16.to_ne_bytes());
        assert_eq!(dirent_names(&buf).count(), 4);
        buf[end + 16..end + 18].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(dirent_names(&buf).count(), 4);
        assert_eq!(dirent_names(&buf[..10]).count(), 0);
    }

    #[test]
    fn effective_capabilities_from_status() {
        let status = b"Name:\tcnetstat\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n";
        assert_eq!(effective_capabilities(status), Some(0x1ff_ffff_ffff));
        assert_eq!(
            effective_capabilities(b"CapEff:\t00000000a80425fb\n"),
            Some(0xa804_25fb)
        );
        assert_eq!(effective_capabilities(b"CapEff:\tzz\n"), None);
        assert_eq!(effective_capabilities(b"Name:\tx\n"), None);
    }

    #[test]
    fn comm_loses_only_its_newline() {
        assert_eq!(comm_name(b"nginx: worker\n"), b"nginx: worker");
        assert_eq!(comm_name(b"sh"), b"sh");
    }
}
