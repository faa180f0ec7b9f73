//! Names kubelet gives to log files, which are the same under every runtime
//! (containerd, CRI-O, cri-dockerd): the pod directories in `/var/log/pods`,
//! named `<namespace>_<pod>_<uid>`, the container logs in them,
//! `<ctr>/<restartCount>.log`, and the links in `/var/log/containers`, named
//! `<pod>_<namespace>_<container>-<containerID>.log`.
//!
//! Source: kubernetes `pkg/kubelet/kuberuntime/helpers.go`
//! (`BuildPodLogsDirectory`, `BuildContainerLogsDirectory`,
//! `buildContainerLogsPath`) and `legacy.go` (`logSymlink`, which cuts the
//! link name to 251 bytes plus `.log`); see docs/runtimes.md §5 and P14.

use memchr::memrchr;

use crate::model::PodInfo;
use crate::parse::ids::{ascii_string, is_container_id, is_pod_uid};

/// What a `/var/log/containers` link name says about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerLogName {
    pub pod: String,
    pub namespace: String,
    pub container: String,
    /// 64 lowercase hex characters.
    pub id: String,
}

/// A `/var/log/pods` entry, `<namespace>_<pod>_<uid>`. Pod and namespace names
/// never contain `_`, and neither does a UID, so the split is unambiguous.
pub fn parse_pod_log_dir(name: &[u8]) -> Option<PodInfo> {
    let mut parts = name.split(|&b| b == b'_');
    let namespace = parts.next()?;
    let pod = parts.next()?;
    let uid = parts.next()?;
    if parts.next().is_some() || !is_pod_uid(uid) {
        return None;
    }
    Some(PodInfo {
        namespace: dns_name(namespace)?,
        name: dns_name(pod)?,
        uid: Some(ascii_string(uid)),
    })
}

/// A `/var/log/containers` entry, `<pod>_<namespace>_<container>-<64hex>.log`.
/// Kubelet cuts names longer than 255 bytes inside the ID; such a name gives
/// None, and the caller should read the link target instead
/// ([`parse_pod_log_path`]).
pub fn parse_container_log_link(name: &[u8]) -> Option<ContainerLogName> {
    let stem = name.strip_suffix(b".log")?;
    let id_start = stem.len().checked_sub(64)?;
    let (head, id) = stem.split_at(id_start);
    let names = head.strip_suffix(b"-")?;
    if !is_container_id(id) {
        return None;
    }
    let mut parts = names.split(|&b| b == b'_');
    let pod = parts.next()?;
    let namespace = parts.next()?;
    let container = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    Some(ContainerLogName {
        pod: dns_name(pod)?,
        namespace: dns_name(namespace)?,
        container: dns_name(container)?,
        id: ascii_string(id),
    })
}

/// A `/var/log/containers` link target,
/// `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`.
/// Only the last three components are read, because the log root is
/// configurable (kubelet `podLogsDir`).
pub fn parse_pod_log_path(target: &[u8]) -> Option<(PodInfo, String)> {
    let (rest, file) = split_last_component(target)?;
    let (rest, container) = split_last_component(rest)?;
    let (_, pod_dir) = split_last_component(rest)?;
    let restart_count = file.strip_suffix(b".log")?;
    if restart_count.is_empty() || !restart_count.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((parse_pod_log_dir(pod_dir)?, dns_name(container)?))
}

/// A namespace, pod or container name: Kubernetes allows only lowercase
/// alphanumerics, `-` and `.` in them, so anything else is not kubelet's.
fn dns_name(name: &[u8]) -> Option<String> {
    let valid = !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    valid.then(|| ascii_string(name))
}

/// Splits `a/b/c` into (`a/b`, `c`); None when the last component is empty.
fn split_last_component(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let (rest, last) = match memrchr(b'/', path) {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (&path[..0], path),
    };
    (!last.is_empty()).then_some((rest, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04";

    fn pod(namespace: &str, name: &str, uid: &str) -> PodInfo {
        PodInfo {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: Some(uid.to_owned()),
        }
    }

    #[test]
    fn pod_log_dir_with_api_uid() {
        assert_eq!(
            parse_pod_log_dir(
                b"kube-system_coredns-5d78c9869d-9xk2p_193c20d9-34af-4b69-b119-2e75aa9023d1"
            ),
            Some(pod(
                "kube-system",
                "coredns-5d78c9869d-9xk2p",
                "193c20d9-34af-4b69-b119-2e75aa9023d1"
            ))
        );
    }

    #[test]
    fn pod_log_dir_of_static_pod_has_hash_uid_and_dotted_name() {
        assert_eq!(
            parse_pod_log_dir(
                b"kube-system_etcd-node1.example.com_6c1f6b9a0e2d4c53a8d2d0b8f5e7c911"
            ),
            Some(pod(
                "kube-system",
                "etcd-node1.example.com",
                "6c1f6b9a0e2d4c53a8d2d0b8f5e7c911"
            ))
        );
    }

    #[test]
    fn pod_log_dir_rejects_other_shapes() {
        for name in [
            &b""[..],
            b"default_web",
            b"default_web_193c20d9-34af-4b69-b119-2e75aa9023d1_extra",
            // UID with a dash out of place, a short UID, a non-hex UID.
            b"default_web_193c20d934-af-4b69-b119-2e75aa9023d1",
            b"default_web_193c20d9-34af-4b69-b119-2e75aa9023d",
            b"default_web_6c1f6b9a0e2d4c53a8d2d0b8f5e7c91g",
            // Empty or upper-case names.
            b"_web_193c20d9-34af-4b69-b119-2e75aa9023d1",
            b"default__193c20d9-34af-4b69-b119-2e75aa9023d1",
            b"Default_web_193c20d9-34af-4b69-b119-2e75aa9023d1",
        ] {
            assert_eq!(parse_pod_log_dir(name), None, "{}", name.escape_ascii());
        }
    }

    #[test]
    fn container_log_link() {
        let name = format!("coredns-5d78c9869d-9xk2p_kube-system_coredns-{ID}.log");
        assert_eq!(
            parse_container_log_link(name.as_bytes()),
            Some(ContainerLogName {
                pod: "coredns-5d78c9869d-9xk2p".to_owned(),
                namespace: "kube-system".to_owned(),
                container: "coredns".to_owned(),
                id: ID.to_owned(),
            })
        );
    }

    #[test]
    fn container_log_link_container_name_may_contain_dashes() {
        let name = format!("web-0_shop_istio-proxy-{ID}.log");
        let parsed = parse_container_log_link(name.as_bytes());
        assert_eq!(parsed.map(|n| n.container), Some("istio-proxy".to_owned()));
    }

    #[test]
    fn container_log_link_truncated_by_kubelet_gives_none() {
        // kubelet keeps the first 251 bytes of `<pod>_<ns>_<ctr>-<id>` and
        // appends `.log`. With a 174-byte pod name, `<pod>_default_sidecar-`
        // takes 191 bytes, so only 60 of the id's 64 characters are kept.
        let pod = "p".repeat(174);
        let full = format!("{pod}_default_sidecar-{ID}");
        assert_eq!(full.len(), 174 + 1 + 7 + 1 + 7 + 1 + 64);
        let truncated = format!("{}.log", &full[..251]);
        assert!(truncated.ends_with(&format!("-{}.log", &ID[..60])));
        assert_eq!(parse_container_log_link(truncated.as_bytes()), None);
        // With a 170-byte pod name the whole name is exactly 251 bytes: kept.
        let fits = format!("{}_default_sidecar-{ID}.log", "p".repeat(170));
        assert_eq!(fits.len(), 255);
        assert_eq!(
            parse_container_log_link(fits.as_bytes()).map(|n| n.id),
            Some(ID.to_owned())
        );
    }

    #[test]
    fn container_log_link_rejects_other_shapes() {
        for name in [
            format!("web_default_nginx-{ID}"),
            format!("web_default_nginx_{ID}.log"),
            format!("web_default_nginx-{}.log", ID.to_uppercase()),
            format!("web_default-{ID}.log"),
            format!("web_default_nginx_x-{ID}.log"),
            format!("-{ID}.log"),
            "short.log".to_owned(),
        ] {
            assert_eq!(parse_container_log_link(name.as_bytes()), None, "{name}");
        }
    }

    #[test]
    fn pod_log_path() {
        assert_eq!(
            parse_pod_log_path(
                b"/var/log/pods/kube-system_coredns-5d78c9869d-9xk2p_193c20d9-34af-4b69-b119-2e75aa9023d1/coredns/12.log"
            ),
            Some((
                pod(
                    "kube-system",
                    "coredns-5d78c9869d-9xk2p",
                    "193c20d9-34af-4b69-b119-2e75aa9023d1"
                ),
                "coredns".to_owned()
            ))
        );
    }

    #[test]
    fn pod_log_path_under_another_log_root() {
        let parsed = parse_pod_log_path(
            b"/data/kubelet-logs/shop_web-0_6c1f6b9a0e2d4c53a8d2d0b8f5e7c911/istio-proxy/0.log",
        );
        assert_eq!(
            parsed,
            Some((
                pod("shop", "web-0", "6c1f6b9a0e2d4c53a8d2d0b8f5e7c911"),
                "istio-proxy".to_owned()
            ))
        );
    }

    #[test]
    fn pod_log_path_rejects_other_shapes() {
        for target in [
            &b""[..],
            b"0.log",
            b"/var/log/pods/shop_web-0_6c1f6b9a0e2d4c53a8d2d0b8f5e7c911/0.log",
            b"/var/log/pods/shop_web-0_6c1f6b9a0e2d4c53a8d2d0b8f5e7c911/web/",
            b"/var/log/pods/shop_web-0_6c1f6b9a0e2d4c53a8d2d0b8f5e7c911/web/.log",
            b"/var/log/pods/shop_web-0_6c1f6b9a0e2d4c53a8d2d0b8f5e7c911/web/0.log.20240101-000000",
            b"/var/log/pods/shop_web-0_not-a-uid/web/0.log",
        ] {
            assert_eq!(
                parse_pod_log_path(target),
                None,
                "{}",
                target.escape_ascii()
            );
        }
    }
}
