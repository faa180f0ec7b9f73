//! `/proc/1/mountinfo`: `parse::mountinfo::net_ns_mounts`.
//!
//! Asserts: no panic; each namespace is listed once, at most one per line;
//! each mount point, written back with the kernel's octal escapes in a
//! mountinfo line, reads back the same.
#![no_main]

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;

use cnetstat::parse::mountinfo::net_ns_mounts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mounts = net_ns_mounts(data);
    assert!(mounts.len() <= data.split(|&b| b == b'\n').count());
    let mut inodes = HashSet::new();
    assert!(mounts.iter().all(|m| inodes.insert(m.inode)), "{mounts:?}");

    let mut rewritten = Vec::new();
    for (i, mount) in mounts.iter().enumerate() {
        rewritten
            .extend_from_slice(format!("{} 30 0:4 net:[{}] ", 100 + i, mount.inode).as_bytes());
        // fs/proc_namespace.c show_mountinfo: seq_path_root(…, " \t\n\\").
        for &b in mount.mount_point.as_os_str().as_bytes() {
            match b {
                b' ' | b'\t' | b'\n' | b'\\' => {
                    rewritten.extend_from_slice(format!("\\{b:03o}").as_bytes())
                }
                _ => rewritten.push(b),
            }
        }
        rewritten.extend_from_slice(b" rw shared:1 - nsfs nsfs rw\n");
    }
    assert_eq!(net_ns_mounts(&rewritten), mounts);
});
