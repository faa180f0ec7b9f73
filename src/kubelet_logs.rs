//! Pod and container names from the kubelet's log layout, the same under
//! every CRI runtime (runtimes.md §5):
//!
//! - `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`
//!   (kubernetes `pkg/kubelet/kuberuntime/helpers.go` `BuildPodLogsDirectory`);
//! - `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`, a symlink
//!   into the above (`pkg/kubelet/kuberuntime/legacy.go` `logSymlink`).
//!
//! Namespaces, pod names, container names and UIDs never contain `_`, so
//! splitting on it is exact.

use crate::model::PodInfo;

/// What a `/var/log/containers` link name says about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerLogName {
    pub pod: String,
    pub namespace: String,
    pub container: String,
    /// 64 lowercase hex characters.
    pub id: String,
}

/// Parses a `/var/log/pods` entry name, `<namespace>_<pod>_<uid>`.
pub fn parse_pod_log_dir(name: &[u8]) -> Option<PodInfo> {
    let [namespace, pod, uid] = split_three(name)?;
    Some(PodInfo {
        namespace: namespace.to_owned(),
        name: pod.to_owned(),
        uid: Some(uid.to_owned()),
    })
}

/// Parses a `/var/log/containers` entry name,
/// `<pod>_<namespace>_<container>-<64 hex id>.log`. Names the kubelet
/// truncated to 251 bytes (runtimes.md P14) lose part of the id and give None.
pub fn parse_container_log_link(name: &[u8]) -> Option<ContainerLogName> {
    const ID_LEN: usize = 64;
    let stem = name.strip_suffix(b".log")?;
    let id_start = stem.len().checked_sub(ID_LEN)?;
    let (head, id) = stem.split_at(id_start);
    let head = head.strip_suffix(b"-")?;
    if !id.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let [pod, namespace, container] = split_three(head)?;
    Some(ContainerLogName {
        pod: pod.to_owned(),
        namespace: namespace.to_owned(),
        container: container.to_owned(),
        id: std::str::from_utf8(id).ok()?.to_owned(),
    })
}

/// Parses a container log path (a `/var/log/containers` link's target),
/// `…/<namespace>_<pod>_<uid>/<container>/<restart>.log`, into the pod and
/// the container name.
pub fn parse_pod_log_path(path: &[u8]) -> Option<(PodInfo, String)> {
    let mut components = path.rsplit(|&b| b == b'/');
    let file = components.next()?;
    let container = components.next()?;
    let pod_dir = components.next()?;
    if !file.ends_with(b".log") || container.is_empty() {
        return None;
    }
    let pod = parse_pod_log_dir(pod_dir)?;
    Some((pod, std::str::from_utf8(container).ok()?.to_owned()))
}

/// Splits on `_` into exactly three non-empty UTF-8 parts.
fn split_three(name: &[u8]) -> Option<[&str; 3]> {
    let name = std::str::from_utf8(name).ok()?;
    let mut parts = name.split('_');
    let three = [parts.next()?, parts.next()?, parts.next()?];
    if parts.next().is_some() || three.iter().any(|part| part.is_empty()) {
        return None;
    }
    Some(three)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_log_dir_splits_into_namespace_pod_and_uid() {
        let pod = parse_pod_log_dir(
            b"kube-system_coredns-558bd4d5db-7xk2p_092cfabe-2c2b-4f57-943e-fd82154da56f",
        )
        .unwrap();
        assert_eq!(pod.namespace, "kube-system");
        assert_eq!(pod.name, "coredns-558bd4d5db-7xk2p");
        assert_eq!(
            pod.uid.as_deref(),
            Some("092cfabe-2c2b-4f57-943e-fd82154da56f")
        );
        // Static pods use the 32-hex config hash as uid; pod names may hold dots.
        let pod =
            parse_pod_log_dir(b"kube-system_etcd-node1.example_3c5f1e2d4b6a798012345678abcdef01")
                .unwrap();
        assert_eq!(pod.name, "etcd-node1.example");
        assert_eq!(pod.uid.as_deref(), Some("3c5f1e2d4b6a798012345678abcdef01"));
    }

    #[test]
    fn pod_log_dir_with_the_wrong_number_of_parts_is_rejected() {
        assert_eq!(parse_pod_log_dir(b"default_web"), None);
        assert_eq!(parse_pod_log_dir(b"default_web_uid_extra"), None);
        assert_eq!(parse_pod_log_dir(b"default__uid"), None);
        assert_eq!(parse_pod_log_dir(b"ns_p\xff_uid"), None);
    }

    #[test]
    fn container_log_link_gives_pod_namespace_container_and_id() {
        let name = b"web-7c5ddbdf54-x2x9q_shop_nginx-\
fbe92deb5405765d16343cb0d84b71f7fff2cb350e6cfb848a6101411a351cfd.log";
        let got = parse_container_log_link(name).unwrap();
        assert_eq!(got.pod, "web-7c5ddbdf54-x2x9q");
        assert_eq!(got.namespace, "shop");
        assert_eq!(got.container, "nginx");
        assert_eq!(
            got.id,
            "fbe92deb5405765d16343cb0d84b71f7fff2cb350e6cfb848a6101411a351cfd"
        );
    }

    #[test]
    fn container_log_link_with_a_truncated_or_odd_id_is_rejected() {
        // 63 hex digits: the kubelet cut the name.
        let truncated = b"web_shop_nginx-\
fbe92deb5405765d16343cb0d84b71f7fff2cb350e6cfb848a6101411a351cf.log";
        assert_eq!(parse_container_log_link(truncated), None);
        let upper = b"web_shop_nginx-\
FBE92DEB5405765D16343CB0D84B71F7FFF2CB350E6CFB848A6101411A351CFD.log";
        assert_eq!(parse_container_log_link(upper), None);
        let no_log = b"web_shop_nginx-\
fbe92deb5405765d16343cb0d84b71f7fff2cb350e6cfb848a6101411a351cfd";
        assert_eq!(parse_container_log_link(no_log), None);
        assert_eq!(parse_container_log_link(b".log"), None);
    }

    #[test]
    fn pod_log_path_gives_pod_and_container() {
        let (pod, container) = parse_pod_log_path(
            b"/var/log/pods/shop_web-7c5ddbdf54-x2x9q_2d4a904a-5088-4e64-a8f6-6f838b61517a/nginx/3.log",
        )
        .unwrap();
        assert_eq!(
            pod,
            PodInfo {
                namespace: "shop".into(),
                name: "web-7c5ddbdf54-x2x9q".into(),
                uid: Some("2d4a904a-5088-4e64-a8f6-6f838b61517a".into()),
            }
        );
        assert_eq!(container, "nginx");
        assert_eq!(
            parse_pod_log_path(b"/var/log/pods/shop_web_uid/nginx"),
            None
        );
        assert_eq!(parse_pod_log_path(b"nginx/0.log"), None);
    }
}
