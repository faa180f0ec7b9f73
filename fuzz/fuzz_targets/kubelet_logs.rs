//! kubelet's log names, `parse::kubelet_logs`: `/var/log/pods` directory
//! names, `/var/log/containers` link names and those links' targets, all
//! on the same bytes.
//!
//! Asserts: no panic; a name that parses is exactly the parts it gave
//! written back in the kubelet's layout, and the parts have the shapes the
//! kubelet gives them (pod UID, 64-hex container id, DNS-label names).
#![no_main]

use cnetstat::model::PodInfo;
use cnetstat::parse::ids::{is_container_id, is_pod_uid};
use cnetstat::parse::kubelet_logs::{
    parse_container_log_link, parse_pod_log_dir, parse_pod_log_path,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(pod) = parse_pod_log_dir(data) {
        assert_eq!(pod_dir(&pod).as_bytes(), data);
    }
    if let Some(link) = parse_container_log_link(data) {
        let name = format!(
            "{}_{}_{}-{}.log",
            link.pod, link.namespace, link.container, link.id
        );
        assert_eq!(name.as_bytes(), data);
        assert!(is_container_id(link.id.as_bytes()));
        for part in [&link.pod, &link.namespace, &link.container] {
            assert!(dns_name(part), "{link:?}");
        }
    }
    if let Some((pod, container)) = parse_pod_log_path(data) {
        let tail = format!("{}/{container}/", pod_dir(&pod));
        let at = data
            .windows(tail.len())
            .rposition(|w| w == tail.as_bytes())
            .expect("the parts are in the path");
        assert!(at == 0 || data[at - 1] == b'/');
        let file = &data[at + tail.len()..];
        let restarts = file.strip_suffix(b".log").expect("a .log file");
        assert!(!restarts.is_empty() && restarts.iter().all(u8::is_ascii_digit));
        assert!(dns_name(&container));
    }
});

/// `<namespace>_<pod>_<uid>`, after checking the parts' shapes.
fn pod_dir(pod: &PodInfo) -> String {
    let uid = pod
        .uid
        .as_deref()
        .expect("a log directory names the pod's uid");
    assert!(is_pod_uid(uid.as_bytes()), "{pod:?}");
    assert!(dns_name(&pod.namespace) && dns_name(&pod.name), "{pod:?}");
    format!("{}_{}_{uid}", pod.namespace, pod.name)
}

fn dns_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}
