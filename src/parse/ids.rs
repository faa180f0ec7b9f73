//! Kubernetes and runtime identifiers, as every source spells them: cgroup
//! paths, kubelet log names, OCI annotations and Docker labels.

use crate::model::PodInfo;

/// Whether `id` is a full container ID as containerd, CRI-O, Docker and
/// Podman make them: 64 lowercase hex characters.
pub fn is_container_id(id: &[u8]) -> bool {
    id.len() == 64 && id.iter().all(|&b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `uid` is a kubelet pod UID: the API server's UUID (36 characters,
/// `8-4-4-4-12` hex groups) or a static pod's hash (32 hex characters, no
/// dashes; kubernetes `pkg/kubelet/config/common.go`, `applyDefaults`).
pub fn is_pod_uid(uid: &[u8]) -> bool {
    match uid.len() {
        32 => uid.iter().all(u8::is_ascii_hexdigit),
        36 => uid.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        }),
        _ => false,
    }
}

/// Bytes already checked to be ASCII, as a String.
pub fn ascii_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The labels the kubelet puts on every container (dockershim and
/// cri-dockerd as Docker labels; CRI-O copies them into OCI annotations,
/// and podman users can set them by hand).
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// The pod those labels name; both namespace and name are needed.
pub fn labelled_pod(
    namespace: Option<&str>,
    name: Option<&str>,
    uid: Option<&str>,
) -> Option<PodInfo> {
    Some(PodInfo {
        namespace: namespace?.to_owned(),
        name: name?.to_owned(),
        uid: uid.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_uid_forms() {
        assert!(is_pod_uid(b"193c20d9-34af-4b69-b119-2e75aa9023d1"));
        assert!(is_pod_uid(b"6c1f6b9a0e2d4c53a8d2d0b8f5e7c911"));
        assert!(!is_pod_uid(b"193c20d9_34af_4b69_b119_2e75aa9023d1"));
        assert!(!is_pod_uid(b"193c20d9-34af-4b69-b119-2e75aa9023d1a"));
        assert!(!is_pod_uid(b"man"));
        assert!(!is_pod_uid(b""));
    }

    #[test]
    fn container_ids_are_64_lowercase_hex() {
        let id = "423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04";
        assert!(is_container_id(id.as_bytes()));
        assert!(!is_container_id(id.to_uppercase().as_bytes()));
        assert!(!is_container_id(&id.as_bytes()[1..]));
    }

    #[test]
    fn a_labelled_pod_needs_namespace_and_name() {
        assert_eq!(
            labelled_pod(Some("shop"), Some("cart-0"), None),
            Some(PodInfo {
                namespace: "shop".into(),
                name: "cart-0".into(),
                uid: None
            })
        );
        assert_eq!(labelled_pod(Some("shop"), None, Some("u")), None);
    }
}
