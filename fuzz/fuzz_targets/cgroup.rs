//! `/proc/<pid>/cgroup`: `parse::cgroup::parse_cgroup_file`, and
//! `parse_cgroup_path` on the path of every line.
//!
//! Asserts: no panic; what a path gives names a pod (a kubelet pod UID) or
//! a container (a full container id) or both, and a monitor always has a
//! runtime; what the file gives is what one of its lines' paths gives, a
//! container-naming line when there is one.
#![no_main]

use cnetstat::model::CgroupRef;
use cnetstat::parse::cgroup::{parse_cgroup_file, parse_cgroup_path};
use cnetstat::parse::ids::{is_container_id, is_pod_uid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let from_lines: Vec<CgroupRef> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let mut parts = line.splitn(3, |&b| b == b':');
            let (_, _, path) = (parts.next()?, parts.next()?, parts.next()?);
            parse_cgroup_path(path)
        })
        .inspect(check)
        .collect();
    match parse_cgroup_file(data) {
        None => assert!(from_lines.is_empty(), "{from_lines:?}"),
        Some(found) => {
            assert!(
                from_lines.contains(&found),
                "{found:?} not in {from_lines:?}"
            );
            if from_lines.iter().any(|r| r.container_id.is_some()) {
                assert!(found.container_id.is_some(), "{found:?}, {from_lines:?}");
            }
        }
    }
});

fn check(found: &CgroupRef) {
    assert!(
        found.pod_uid.is_some() || found.container_id.is_some(),
        "{found:?}"
    );
    if let Some(uid) = &found.pod_uid {
        assert!(is_pod_uid(uid.as_bytes()), "{found:?}");
    }
    if let Some(id) = &found.container_id {
        assert!(is_container_id(id.as_bytes()), "{found:?}");
    }
    assert!(!found.monitor || found.runtime.is_some(), "{found:?}");
    assert!(
        found.runtime.is_none() || found.container_id.is_some(),
        "{found:?}"
    );
}
