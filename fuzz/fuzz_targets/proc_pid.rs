//! The per-process procfs parsers of `parse::proc_pid`, all on the same
//! bytes: namespace and socket links, `comm`, getdents64 records and
//! `CapEff` in `status`.
//!
//! Asserts: no panic; a link that parses has the link's shape and the
//! number written back parses to itself; `comm` loses at most its newline;
//! the dirent walk ends, stays within the buffer, and the names it gives,
//! written back as records, read back the same; a capability set written
//! back as the kernel prints it reads back the same.
#![no_main]

use std::ffi::CStr;

use cnetstat::parse::proc_pid::{
    comm_name, dirent_names, effective_capabilities, parse_ns_link, parse_socket_link,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(inode) = parse_ns_link(data) {
        assert!(data.starts_with(b"net:[") && data.ends_with(b"]"));
        assert_eq!(
            parse_ns_link(format!("net:[{inode}]").as_bytes()),
            Some(inode)
        );
    }
    if let Some(inode) = parse_socket_link(data) {
        assert!(data.starts_with(b"socket:[") && data.ends_with(b"]"));
        assert_eq!(
            parse_socket_link(format!("socket:[{inode}]").as_bytes()),
            Some(inode)
        );
    }

    let comm = comm_name(data);
    assert!(data.starts_with(comm));
    assert!(data.len() - comm.len() <= 1);

    // Each record takes at least 20 bytes (19 of header and a NUL).
    let names: Vec<&CStr> = dirent_names(data).take(data.len() / 20 + 1).collect();
    assert!(names.len() <= data.len() / 20);
    let data_range = data.as_ptr_range();
    for name in &names {
        let bytes = name.to_bytes_with_nul();
        assert!(data_range.contains(&bytes.as_ptr()));
        assert!(data_range.contains(&bytes[bytes.len() - 1..].as_ptr()));
    }
    let rebuilt: Vec<u8> = names.iter().flat_map(|name| record(name)).collect();
    assert_eq!(dirent_names(&rebuilt).collect::<Vec<_>>(), names);

    if let Some(caps) = effective_capabilities(data) {
        let status = format!("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t{caps:016x}\n");
        assert_eq!(effective_capabilities(status.as_bytes()), Some(caps));
    }
});

/// A `linux_dirent64` record as the kernel writes it, 8-byte aligned
/// (unless that would not fit `d_reclen`: the parser does not need it).
fn record(name: &CStr) -> Vec<u8> {
    let mut bytes = vec![0u8; 19];
    bytes.extend_from_slice(name.to_bytes_with_nul());
    while !bytes.len().is_multiple_of(8) && bytes.len() < usize::from(u16::MAX) {
        bytes.push(0);
    }
    let reclen = u16::try_from(bytes.len()).expect("a name from a u16-long record");
    bytes[16..18].copy_from_slice(&reclen.to_ne_bytes());
    bytes
}
