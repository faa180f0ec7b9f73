//! Network namespaces pinned by bind mounts, read from `/proc/1/mountinfo`:
//! `ip netns`, CNI, CRI-O's pinns, podman and Docker keep a namespace alive
//! by bind-mounting its nsfs file, so it outlives its processes and no
//! `/proc/<pid>/ns/net` leads to it (docs/runtimes.md §6.1, §6.2 step 3).
//!
//! Line format (proc(5), `/proc/pid/mountinfo`):
//! `id parent major:minor root mount-point options [optional fields…] - fstype source super-options`.
//! The number of optional fields varies, so fstype is the field after the
//! lone `-`. For an nsfs mount the root is `net:[<inode>]`. The kernel writes
//! space, tab, newline and backslash in paths as `\ooo` octal escapes
//! (fs/proc_namespace.c, `show_mountinfo` → `seq_path_root(…, " \t\n\\")`).

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::parse::proc_pid::parse_ns_link;

/// A network namespace and one place it is bind-mounted, as the mount
/// namespace that wrote the mountinfo sees it (open it through
/// `/proc/1/root` from a debug pod, P3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsMount {
    pub inode: u64,
    pub mount_point: PathBuf,
}

/// Every network namespace bind-mounted somewhere, once per inode, with its
/// first mount point in file order. Lines that do not parse are skipped.
pub fn net_ns_mounts(buf: &[u8]) -> Vec<NsMount> {
    let mut seen = HashSet::new();
    buf.split(|&b| b == b'\n')
        .filter_map(net_ns_mount)
        .filter(|mount| seen.insert(mount.inode))
        .collect()
}

fn net_ns_mount(line: &[u8]) -> Option<NsMount> {
    let mut fields = line.split(|&b| b == b' ');
    let root = fields.nth(3)?;
    let mount_point = fields.next()?;
    let mut after_separator = fields.skip(1).skip_while(|&field| field != b"-").skip(1);
    if after_separator.next()? != b"nsfs" {
        return None;
    }
    Some(NsMount {
        inode: parse_ns_link(root)?,
        mount_point: PathBuf::from(OsString::from_vec(unescape_octal(mount_point))),
    })
}

/// Replaces each `\ooo` (three octal digits) with its byte; any other
/// backslash is kept as is.
fn unescape_octal(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'\\' {
            if let Some(byte) = tail.get(..3).and_then(octal_byte) {
                out.push(byte);
                rest = &tail[3..];
                continue;
            }
        }
        out.push(first);
        rest = tail;
    }
    out
}

fn octal_byte(digits: &[u8]) -> Option<u8> {
    digits.iter().try_fold(0u8, |value, &digit| {
        if !(b'0'..=b'7').contains(&digit) {
            return None;
        }
        value.checked_mul(8)?.checked_add(digit - b'0')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(inode: u64, mount_point: &[u8]) -> NsMount {
        NsMount {
            inode,
            mount_point: PathBuf::from(OsString::from_vec(mount_point.to_vec())),
        }
    }

    /// Recorded with a Docker container (`--network none` still gets a
    /// netns), five `ip netns add` names holding a space, tab, backslash and
    /// newline, a second bind mount of cnetstat-t1 and a bind-mounted uts
    /// namespace. Inodes were checked with `stat -L -c %i`.
    #[test]
    fn recorded_ip_netns_docker_and_bind_mounts() {
        let buf = include_bytes!("../../testdata/mountinfo/ip_netns_docker_bind.mountinfo");
        assert_eq!(
            net_ns_mounts(buf),
            vec![
                mount(4026532181, b"/run/docker/netns/ceb2970f7623"),
                mount(4026532250, b"/run/netns/cnetstat-t1"),
                mount(4026532319, b"/run/netns/cnetstat t2"),
                mount(4026532388, b"/run/netns/cnetstat\tt3"),
                mount(4026532457, b"/run/netns/cnetstat\\t4"),
                mount(4026532526, b"/run/netns/cnetstat\nt5"),
                // 4026532250 again at /tmp/cnetstat-dup: dropped.
                // uts:[4026531838] at /tmp/cnetstat-uts: not a netns.
            ]
        );
    }

    #[test]
    fn recorded_docker_only() {
        let buf = include_bytes!("../../testdata/mountinfo/docker_none_network.mountinfo");
        assert_eq!(
            net_ns_mounts(buf),
            vec![mount(4026532181, b"/run/docker/netns/ceb2970f7623")]
        );
    }

    #[test]
    fn optional_fields_vary_in_number() {
        let buf = b"3169 3168 0:4 net:[4026536028] /mnt/cni-1234 rw - nsfs nsfs rw\n\
                    3170 3168 0:4 net:[4026536029] /run/netns/a rw shared:3 master:1 propagate_from:2 - nsfs nsfs rw\n\
                    3171 3168 0:4 net:[4026536030] /run/netns/b rw,nosuid shared:7 - nsfs nsfs rw";
        assert_eq!(
            net_ns_mounts(buf),
            vec![
                mount(4026536028, b"/mnt/cni-1234"),
                mount(4026536029, b"/run/netns/a"),
                mount(4026536030, b"/run/netns/b"),
            ]
        );
    }

    #[test]
    fn malformed_and_foreign_lines_are_skipped() {
        let buf = b"\n\
                    garbage\n\
                    1 2 0:4 net:[4026536028]\n\
                    1 2 0:4 net:[4026536028] /no/separator rw nsfs nsfs rw\n\
                    1 2 0:4 net:[4026536028] /nothing/after/separator rw -\n\
                    1 2 0:4 net:[] /empty/inode rw - nsfs nsfs rw\n\
                    1 2 0:4 net:[12x] /bad/inode rw - nsfs nsfs rw\n\
                    1 2 0:4 net:[99999999999999999999] /overflow rw - nsfs nsfs rw\n\
                    1 2 0:4 mnt:[4026531832] /mnt/ns rw - nsfs nsfs rw\n\
                    1 2 0:4 net:[4026536028] /not/nsfs rw - tmpfs tmpfs rw\n\
                    1 2 0:4 net:[4026536031] /kept rw - nsfs nsfs rw\n";
        assert_eq!(net_ns_mounts(buf), vec![mount(4026536031, b"/kept")]);
    }

    #[test]
    fn the_mount_options_field_is_never_taken_for_the_separator() {
        let buf = b"1 2 0:4 net:[4026536028] /odd - shared:1 - nsfs nsfs rw\n";
        assert_eq!(net_ns_mounts(buf), vec![mount(4026536028, b"/odd")]);
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape_octal(br"/a\040b\011c\012d\134e"), b"/a b\tc\nd\\e");
        // Not three octal digits: kept literally.
        assert_eq!(unescape_octal(br"/a\04"), br"/a\04");
        assert_eq!(unescape_octal(br"/a\089"), br"/a\089");
        assert_eq!(unescape_octal(br"/a\"), br"/a\");
        // \777 does not fit a byte.
        assert_eq!(unescape_octal(br"/a\777"), br"/a\777");
        assert_eq!(unescape_octal(br"\134\134"), br"\\");
    }
}
