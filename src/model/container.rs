//! Who runs where: what cgroups, runtimes and the kubelet say about
//! containers and pods.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Runtime {
    #[serde(rename = "docker")]
    Docker,
    #[serde(rename = "containerd")]
    Containerd,
    #[serde(rename = "cri-o")]
    CriO,
    #[serde(rename = "podman")]
    Podman,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
        }
    }
}

/// What a process's cgroup path tells about it (runtimes.md §1.6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupRef {
    /// The kubelet pod UID, dashes restored, when the path holds a pod cgroup.
    pub pod_uid: Option<String>,
    /// 64 lowercase hex characters, when the path holds a container leaf.
    pub container_id: Option<String>,
    /// The runtime the leaf's prefix names; None for a bare id (cgroupfs).
    pub runtime: Option<Runtime>,
    /// A runtime monitor (conmon), not the workload.
    pub monitor: bool,
}

/// A Kubernetes pod, as runtime metadata or kubelet files name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// The container name the kubelet gives a pod's sandbox (pause or infra
/// container) in runtime labels and dockershim names.
pub const SANDBOX_NAME: &str = "POD";

/// What a runtime's metadata tells about one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Full id, as in cgroup paths.
    pub id: String,
    pub runtime: Option<Runtime>,
    /// The Kubernetes container name, or the runtime's own name for a
    /// container outside Kubernetes.
    pub name: Option<String>,
    pub pod: Option<PodInfo>,
    /// The pod sandbox (pause or infra container), not an app container.
    pub sandbox: bool,
    /// The sandbox's container id, as the CRI runtimes record it on app
    /// containers: old containerd names the pod only on the sandbox.
    pub sandbox_id: Option<String>,
    /// The network namespace file the OCI spec names, as written there
    /// (host-absolute, e.g. /var/run/netns/cni-…).
    pub netns_path: Option<PathBuf>,
}

impl ContainerInfo {
    /// A container known by its id alone, for sources that add a field or two.
    pub fn unnamed(id: String) -> ContainerInfo {
        ContainerInfo {
            id,
            runtime: None,
            name: None,
            pod: None,
            sandbox: false,
            sandbox_id: None,
            netns_path: None,
        }
    }
}
