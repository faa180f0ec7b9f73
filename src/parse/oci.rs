//! Who a container is, from the annotations of its OCI runtime spec
//! (`config.json` in its bundle), which every CRI runtime fills with the pod's
//! identity. Formats: runtimes.md §3.2 (containerd CRI), §4.2 (CRI-O), §4.5
//! (podman); the OCI runtime spec's `annotations` and `linux.namespaces`.
//!
//! Only the annotation keys below are deserialised; the rest of the spec
//! (mounts, seccomp, environment: most of its 3–20 KB) is skipped unparsed.

use std::path::PathBuf;

use serde::Deserialize;

use crate::model::{ContainerInfo, PodInfo, Runtime, SANDBOX_NAME};
use crate::parse::ids::labelled_pod;
use crate::parse::kubelet_logs::parse_pod_log_dir;

/// Reads the identity annotations and the network namespace path of one
/// spec. `id` is the container id, which the spec itself does not hold
/// (it is the bundle directory's name).
///
/// A spec without any runtime's annotations (a plain `ctr run`, Docker's
/// `moby` bundles, buildah) is not an error: it gives `runtime: None` and no
/// names, and the caller, which knows where the bundle was found, decides.
pub fn parse_config_json(bytes: &[u8], id: &str) -> Result<ContainerInfo, serde_json::Error> {
    let spec: Spec = serde_json::from_slice(bytes)?;
    let netns_path = spec.linux.and_then(|linux| {
        linux
            .namespaces
            .into_iter()
            .find(|namespace| namespace.kind == "network")
            .and_then(|namespace| namespace.path)
            .map(PathBuf::from)
    });
    let a = spec.annotations.unwrap_or_default();
    let mut container = ContainerInfo {
        netns_path,
        ..ContainerInfo::unnamed(id.to_owned())
    };
    if let Some(container_type) = a.cri_container_type {
        container.runtime = Some(Runtime::Containerd);
        container.sandbox = container_type == "sandbox";
        container.name = if container.sandbox {
            Some(SANDBOX_NAME.to_owned())
        } else {
            a.cri_container_name
        };
        container.pod = containerd_pod(
            a.cri_sandbox_namespace,
            a.cri_sandbox_name,
            a.cri_sandbox_uid,
            a.cri_sandbox_log_directory.as_deref(),
        );
        container.sandbox_id = a.cri_sandbox_id;
    } else if a.container_manager.as_deref() == Some("libpod") {
        container.runtime = Some(Runtime::Podman);
        container.pod = labelled_pod(
            a.pod_namespace.as_deref(),
            a.pod_name.as_deref(),
            a.pod_uid.as_deref(),
        );
        container.name = a.container_name;
    } else if a.container_manager.as_deref() == Some("cri-o") || a.crio_container_type.is_some() {
        container.runtime = Some(Runtime::CriO);
        container.sandbox = a.crio_container_type.as_deref() == Some("sandbox");
        container.name = if container.sandbox {
            Some(SANDBOX_NAME.to_owned())
        } else {
            a.container_name
        };
        container.pod = labelled_pod(
            a.pod_namespace.as_deref(),
            a.pod_name.as_deref(),
            a.pod_uid.as_deref(),
        );
        container.sandbox_id = a.crio_sandbox_id;
    }
    Ok(container)
}

/// containerd ≥ 1.5 names the pod directly (the uid only from 1.6.11); older
/// ones only on the sandbox, through its log directory (runtimes.md P5).
fn containerd_pod(
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
    log_directory: Option<&str>,
) -> Option<PodInfo> {
    let from_log_directory = log_directory
        .and_then(|dir| dir.rsplit('/').find(|part| !part.is_empty()))
        .and_then(|base| parse_pod_log_dir(base.as_bytes()));
    match (namespace, name) {
        (Some(namespace), Some(name)) => {
            let uid = uid.or_else(|| {
                from_log_directory
                    .filter(|pod| pod.namespace == namespace && pod.name == name)
                    .and_then(|pod| pod.uid)
            });
            Some(PodInfo {
                namespace,
                name,
                uid,
            })
        }
        _ => from_log_directory,
    }
}

#[derive(Deserialize)]
struct Spec {
    annotations: Option<Annotations>,
    linux: Option<Linux>,
}

#[derive(Deserialize)]
struct Linux {
    #[serde(default)]
    namespaces: Vec<Namespace>,
}

#[derive(Deserialize)]
struct Namespace {
    #[serde(rename = "type")]
    kind: String,
    path: Option<String>,
}

/// The annotation keys cnetstat reads; serde skips every other key.
#[derive(Default, Deserialize)]
struct Annotations {
    #[serde(rename = "io.kubernetes.cri.container-type")]
    cri_container_type: Option<String>,
    #[serde(rename = "io.kubernetes.cri.container-name")]
    cri_container_name: Option<String>,
    #[serde(rename = "io.kubernetes.cri.sandbox-id")]
    cri_sandbox_id: Option<String>,
    #[serde(rename = "io.kubernetes.cri.sandbox-namespace")]
    cri_sandbox_namespace: Option<String>,
    #[serde(rename = "io.kubernetes.cri.sandbox-name")]
    cri_sandbox_name: Option<String>,
    #[serde(rename = "io.kubernetes.cri.sandbox-uid")]
    cri_sandbox_uid: Option<String>,
    #[serde(rename = "io.kubernetes.cri.sandbox-log-directory")]
    cri_sandbox_log_directory: Option<String>,
    #[serde(rename = "io.container.manager")]
    container_manager: Option<String>,
    #[serde(rename = "io.kubernetes.cri-o.ContainerType")]
    crio_container_type: Option<String>,
    #[serde(rename = "io.kubernetes.cri-o.SandboxID")]
    crio_sandbox_id: Option<String>,
    #[serde(rename = "io.kubernetes.pod.namespace")]
    pod_namespace: Option<String>,
    #[serde(rename = "io.kubernetes.pod.name")]
    pod_name: Option<String>,
    #[serde(rename = "io.kubernetes.pod.uid")]
    pod_uid: Option<String>,
    #[serde(rename = "io.kubernetes.container.name")]
    container_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(file: &str, id: &str) -> ContainerInfo {
        let path = format!("{}/testdata/oci/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        parse_config_json(&bytes, id).unwrap()
    }

    fn pod(namespace: &str, name: &str, uid: Option<&str>) -> Option<PodInfo> {
        Some(PodInfo {
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.map(String::from),
        })
    }

    const CONTAINERD_SANDBOX: &str =
        "f80a823dbc4a6838bd597637f8026f5f72215d0ecb5080e51812384b75edf792";
    const CONTAINERD_APP: &str = "fbe92deb5405765d16343cb0d84b71f7fff2cb350e6cfb848a6101411a351cfd";

    #[test]
    fn containerd_sandbox_names_its_pod_and_netns() {
        let got = parse("containerd-1.6-sandbox.json", CONTAINERD_SANDBOX);
        assert_eq!(
            got,
            ContainerInfo {
                id: CONTAINERD_SANDBOX.into(),
                runtime: Some(Runtime::Containerd),
                name: Some("POD".into()),
                pod: pod(
                    "shop",
                    "web-7c5ddbdf54-x2x9q",
                    Some("2d4a904a-5088-4e64-a8f6-6f838b61517a")
                ),
                sandbox: true,
                sandbox_id: Some(CONTAINERD_SANDBOX.into()),
                netns_path: Some("/var/run/netns/cni-2a0131a0-6a97-43df-9f35-e1bc182bf7a5".into()),
            }
        );
    }

    #[test]
    fn containerd_app_container_names_itself_and_its_sandbox() {
        let got = parse("containerd-1.6-container.json", CONTAINERD_APP);
        assert_eq!(
            got,
            ContainerInfo {
                id: CONTAINERD_APP.into(),
                runtime: Some(Runtime::Containerd),
                name: Some("nginx".into()),
                pod: pod(
                    "shop",
                    "web-7c5ddbdf54-x2x9q",
                    Some("2d4a904a-5088-4e64-a8f6-6f838b61517a")
                ),
                sandbox: false,
                sandbox_id: Some(CONTAINERD_SANDBOX.into()),
                // The sandbox's pid at recording time, as containerd writes it.
                netns_path: Some("/proc/6940/ns/net".into()),
            }
        );
    }

    #[test]
    fn old_containerd_sandbox_takes_its_pod_from_the_log_directory() {
        let got = parse(
            "containerd-1.4-style-sandbox.json",
            "4cda29bbf866df0341b35c880a71bbdbcb46815d8a895e43f0f54f2fe98defa2",
        );
        assert_eq!(got.runtime, Some(Runtime::Containerd));
        assert!(got.sandbox);
        assert_eq!(
            got.pod,
            pod(
                "kube-system",
                "coredns-558bd4d5db-7xk2p",
                Some("092cfabe-2c2b-4f57-943e-fd82154da56f")
            )
        );
        assert_eq!(
            got.netns_path,
            Some("/var/run/netns/cni-5faf3a21-9b51-44bb-bca7-e96c30800582".into())
        );
    }

    #[test]
    fn old_containerd_app_container_has_only_its_name_and_sandbox() {
        let got = parse(
            "containerd-1.4-style-container.json",
            "50cb9208a001c9e5a00c288648ca025f388ef3adca1d5c4ffc81893b2c483caa",
        );
        assert_eq!(got.runtime, Some(Runtime::Containerd));
        assert_eq!(got.name.as_deref(), Some("coredns"));
        assert_eq!(got.pod, None);
        assert!(!got.sandbox);
        assert_eq!(
            got.sandbox_id.as_deref(),
            Some("4cda29bbf866df0341b35c880a71bbdbcb46815d8a895e43f0f54f2fe98defa2")
        );
    }

    #[test]
    fn containerd_before_1_6_11_gets_the_uid_from_the_log_directory() {
        let spec = br#"{"annotations":{
            "io.kubernetes.cri.container-type":"sandbox",
            "io.kubernetes.cri.sandbox-namespace":"shop",
            "io.kubernetes.cri.sandbox-name":"web-0",
            "io.kubernetes.cri.sandbox-log-directory":"/var/log/pods/shop_web-0_0c1d5a3e-7b2f-4c8d-9e01-23456789abcd/"}}"#;
        let got = parse_config_json(spec, "a").unwrap();
        assert_eq!(
            got.pod,
            pod(
                "shop",
                "web-0",
                Some("0c1d5a3e-7b2f-4c8d-9e01-23456789abcd")
            )
        );
        assert_eq!(got.netns_path, None);
    }

    const CRIO_SANDBOX: &str = "5b0c3f6a9d8e47f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819";
    const CRIO_NETNS: &str = "/var/run/netns/0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19";

    #[test]
    fn crio_sandbox_is_the_pods_infra_container() {
        let got = parse("crio-constructed-sandbox.json", CRIO_SANDBOX);
        assert_eq!(
            got,
            ContainerInfo {
                id: CRIO_SANDBOX.into(),
                runtime: Some(Runtime::CriO),
                name: Some("POD".into()),
                pod: pod(
                    "monitoring",
                    "prometheus-0",
                    Some("e3b0c442-98fc-4c14-9afb-f4c8996fb924")
                ),
                sandbox: true,
                sandbox_id: Some(CRIO_SANDBOX.into()),
                netns_path: Some(CRIO_NETNS.into()),
            }
        );
    }

    #[test]
    fn crio_app_container_shares_the_pinned_netns() {
        let id = "c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80910";
        let got = parse("crio-constructed-container.json", id);
        assert_eq!(got.runtime, Some(Runtime::CriO));
        assert_eq!(got.name.as_deref(), Some("prometheus"));
        assert!(!got.sandbox);
        assert_eq!(
            got.pod,
            pod(
                "monitoring",
                "prometheus-0",
                Some("e3b0c442-98fc-4c14-9afb-f4c8996fb924")
            )
        );
        assert_eq!(got.netns_path, Some(CRIO_NETNS.into()));
        assert_eq!(got.sandbox_id.as_deref(), Some(CRIO_SANDBOX));
    }

    #[test]
    fn podman_without_kubernetes_annotations_is_left_unnamed() {
        // podman 4.3 writes io.kubernetes.cri-o.Created and .TTY, so the
        // libpod manager must be tested before any cri-o key.
        let id = "cdc0ff01adb8f151c6fae347db2ba16c7e4ec9a9954f4ef6ab948d1704646daf";
        let got = parse("podman-4.3-plain.json", id);
        assert_eq!(
            got,
            ContainerInfo {
                id: id.into(),
                runtime: Some(Runtime::Podman),
                name: None,
                pod: None,
                sandbox: false,
                sandbox_id: None,
                // --network none: a private netns with no file behind it.
                netns_path: None,
            }
        );
    }

    #[test]
    fn podman_with_kubernetes_annotations_uses_them() {
        let id = "d60c70184be95e572e086b81f0073d25e865fa59659f505d7cee8f0a844594e8";
        let got = parse("podman-4.3-k8s-annotations.json", id);
        assert_eq!(got.runtime, Some(Runtime::Podman));
        assert_eq!(got.name.as_deref(), Some("api"));
        assert_eq!(
            got.pod,
            pod(
                "payments",
                "api-5f7d8c9b6-q4w2e",
                Some("7b3e9f10-2c4d-4a8e-b1f6-0d9c8e7a6b54")
            )
        );
    }

    #[test]
    fn spec_without_runtime_annotations_is_anonymous() {
        let spec = br#"{"ociVersion":"1.0.2","annotations":{"org.opencontainers.image.stopSignal":"15"},
            "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/docker/netns/66b3be8a0903"}]}}"#;
        let got = parse_config_json(spec, "b").unwrap();
        assert_eq!(got.runtime, None);
        assert_eq!(got.name, None);
        assert_eq!(got.pod, None);
        assert_eq!(
            got.netns_path,
            Some("/var/run/docker/netns/66b3be8a0903".into())
        );
        let bare = parse_config_json(br#"{"annotations":null,"linux":null}"#, "c").unwrap();
        assert_eq!(bare.runtime, None);
        assert_eq!(bare.netns_path, None);
    }

    #[test]
    fn malformed_spec_is_an_error() {
        assert!(parse_config_json(b"{\"annotations\":", "x").is_err());
        assert!(parse_config_json(b"[]", "x").is_err());
        assert!(parse_config_json(br#"{"annotations":{"io.container.manager":7}}"#, "x").is_err());
    }
}
