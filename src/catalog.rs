//! Everything the node's runtimes and kubelet say about containers and pods,
//! merged into one lookup: container id → names, pod uid → pod. Sources are
//! added in order of trust; a later source only fills what earlier ones left
//! empty, so the Docker API, OCI bundles and kubelet log names can all
//! answer for the same container without one erasing another.

use std::collections::HashMap;

use crate::model::{ContainerInfo, PodInfo};

#[derive(Debug, Default)]
pub struct Catalog {
    containers: HashMap<String, ContainerInfo>,
    pods: HashMap<String, PodInfo>,
}

impl Catalog {
    pub fn add_container(&mut self, info: ContainerInfo) {
        if let Some(pod) = &info.pod {
            self.add_pod(pod.clone());
        }
        match self.containers.get_mut(&info.id) {
            None => {
                self.containers.insert(info.id.clone(), info);
            }
            Some(known) => {
                known.runtime = known.runtime.or(info.runtime);
                known.sandbox |= info.sandbox;
                if known.name.is_none() {
                    known.name = info.name;
                }
                if known.netns_path.is_none() {
                    known.netns_path = info.netns_path;
                }
                match (&mut known.pod, info.pod) {
                    (None, pod) => known.pod = pod,
                    (Some(known_pod), Some(pod)) if known_pod.uid.is_none() => {
                        known_pod.uid = pod.uid
                    }
                    _ => {}
                }
            }
        }
    }

    /// Pods without a uid cannot be looked up by one, so they are kept only
    /// through the containers that name them.
    pub fn add_pod(&mut self, pod: PodInfo) {
        if let Some(uid) = &pod.uid {
            self.pods.entry(uid.clone()).or_insert(pod);
        }
    }

    pub fn container(&self, id: &str) -> Option<&ContainerInfo> {
        self.containers.get(id)
    }

    pub fn pod(&self, uid: &str) -> Option<&PodInfo> {
        self.pods.get(uid)
    }

    pub fn containers(&self) -> impl Iterator<Item = &ContainerInfo> {
        self.containers.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Runtime;

    fn pod(uid: Option<&str>) -> PodInfo {
        PodInfo {
            namespace: "shop".into(),
            name: "cart-0".into(),
            uid: uid.map(Into::into),
        }
    }

    fn container(id: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.into(),
            runtime: None,
            name: None,
            pod: None,
            sandbox: false,
            netns_path: None,
        }
    }

    #[test]
    fn later_sources_fill_gaps_but_never_overwrite() {
        let mut catalog = Catalog::default();
        catalog.add_container(ContainerInfo {
            runtime: Some(Runtime::Docker),
            name: Some("cart".into()),
            ..container("abc")
        });
        catalog.add_container(ContainerInfo {
            runtime: Some(Runtime::Containerd),
            name: Some("other".into()),
            pod: Some(pod(Some("u-1"))),
            netns_path: Some("/run/netns/cni-1".into()),
            ..container("abc")
        });
        let merged = catalog.container("abc").unwrap();
        assert_eq!(merged.runtime, Some(Runtime::Docker));
        assert_eq!(merged.name.as_deref(), Some("cart"));
        assert_eq!(merged.pod, Some(pod(Some("u-1"))));
        assert_eq!(merged.netns_path, Some("/run/netns/cni-1".into()));
        assert_eq!(catalog.pod("u-1"), Some(&pod(Some("u-1"))));
    }

    #[test]
    fn a_pod_learns_its_uid_from_a_later_source() {
        let mut catalog = Catalog::default();
        catalog.add_container(ContainerInfo {
            pod: Some(pod(None)),
            ..container("abc")
        });
        catalog.add_container(ContainerInfo {
            pod: Some(pod(Some("u-2"))),
            ..container("abc")
        });
        assert_eq!(
            catalog
                .container("abc")
                .unwrap()
                .pod
                .as_ref()
                .unwrap()
                .uid
                .as_deref(),
            Some("u-2")
        );
        assert!(catalog.pod("u-2").is_some());
    }
}
