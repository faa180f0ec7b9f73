//! The one merge policy for container names. Sources are added in order of
//! trust (the Docker API, then OCI bundles, then the kubelet's log names);
//! a later source only fills what earlier ones left empty, so every source
//! can answer for the same container without one erasing another.

use crate::model::{Catalog, ContainerInfo, PodInfo};

impl Catalog {
    pub fn add_container(&mut self, info: ContainerInfo) {
        if let Some(pod) = &info.pod {
            self.add_pod(pod.clone());
        }
        let Some(known) = self.containers.get_mut(&info.id) else {
            self.containers.insert(info.id.clone(), info);
            return;
        };
        known.runtime = known.runtime.or(info.runtime);
        known.sandbox |= info.sandbox;
        if known.name.is_none() {
            known.name = info.name;
        }
        if known.sandbox_id.is_none() {
            known.sandbox_id = info.sandbox_id;
        }
        if known.netns_path.is_none() {
            known.netns_path = info.netns_path;
        }
        if let Some(pod) = info.pod {
            fill_pod(&mut known.pod, pod);
        }
    }

    /// Pods without a uid cannot be looked up by one, so they are kept only
    /// through the containers that name them.
    pub fn add_pod(&mut self, pod: PodInfo) {
        if let Some(uid) = &pod.uid {
            self.pods.entry(uid.clone()).or_insert(pod);
        }
    }

    /// containerd before 1.5 names the pod only on the sandbox, and before
    /// 1.6.11 has no uid on app containers (runtimes.md P5): an app
    /// container takes them from the sandbox it points to.
    pub fn fill_pods_from_sandboxes(&mut self) {
        let from_sandbox: Vec<(String, PodInfo)> = self
            .containers
            .values()
            .filter(|c| c.pod.as_ref().map_or(true, |pod| pod.uid.is_none()))
            .filter_map(|c| {
                let sandbox_id = c.sandbox_id.as_ref().filter(|id| **id != c.id)?;
                let pod = self.containers.get(sandbox_id)?.pod.clone()?;
                Some((c.id.clone(), pod))
            })
            .collect();
        for (id, pod) in from_sandbox {
            if let Some(container) = self.containers.get_mut(&id) {
                fill_pod(&mut container.pod, pod.clone());
            }
            self.add_pod(pod);
        }
    }
}

/// Completes a container's pod from another source of the same pod: the
/// whole pod when it has none, or the uid it lacks when namespace and name
/// agree.
fn fill_pod(pod: &mut Option<PodInfo>, source: PodInfo) {
    match pod {
        None => *pod = Some(source),
        Some(known) => {
            if known.uid.is_none()
                && known.namespace == source.namespace
                && known.name == source.name
            {
                known.uid = source.uid;
            }
        }
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

    #[test]
    fn later_sources_fill_gaps_but_never_overwrite() {
        let mut catalog = Catalog::default();
        catalog.add_container(ContainerInfo {
            runtime: Some(Runtime::Docker),
            name: Some("cart".into()),
            ..ContainerInfo::unnamed("abc".into())
        });
        catalog.add_container(ContainerInfo {
            runtime: Some(Runtime::Containerd),
            name: Some("other".into()),
            pod: Some(pod(Some("u-1"))),
            netns_path: Some("/run/netns/cni-1".into()),
            ..ContainerInfo::unnamed("abc".into())
        });
        let merged = catalog.container("abc").unwrap();
        assert_eq!(merged.runtime, Some(Runtime::Docker));
        assert_eq!(merged.name.as_deref(), Some("cart"));
        assert_eq!(merged.pod, Some(pod(Some("u-1"))));
        assert_eq!(merged.netns_path, Some("/run/netns/cni-1".into()));
        assert_eq!(catalog.pod("u-1"), Some(&pod(Some("u-1"))));
    }

    #[test]
    fn a_pod_learns_its_uid_only_from_a_source_naming_the_same_pod() {
        let mut catalog = Catalog::default();
        catalog.add_container(ContainerInfo {
            pod: Some(pod(None)),
            ..ContainerInfo::unnamed("abc".into())
        });
        catalog.add_container(ContainerInfo {
            pod: Some(PodInfo {
                name: "cart-1".into(),
                ..pod(Some("u-other"))
            }),
            ..ContainerInfo::unnamed("abc".into())
        });
        assert_eq!(catalog.container("abc").unwrap().pod, Some(pod(None)));
        catalog.add_container(ContainerInfo {
            pod: Some(pod(Some("u-2"))),
            ..ContainerInfo::unnamed("abc".into())
        });
        assert_eq!(
            catalog.container("abc").unwrap().pod,
            Some(pod(Some("u-2")))
        );
        assert!(catalog.pod("u-2").is_some());
    }

    #[test]
    fn an_app_container_takes_its_pod_from_its_sandbox() {
        let mut catalog = Catalog::default();
        catalog.add_container(ContainerInfo {
            sandbox: true,
            sandbox_id: Some("sandbox".into()),
            pod: Some(pod(Some("u-3"))),
            ..ContainerInfo::unnamed("sandbox".into())
        });
        catalog.add_container(ContainerInfo {
            name: Some("coredns".into()),
            sandbox_id: Some("sandbox".into()),
            ..ContainerInfo::unnamed("app".into())
        });
        catalog.fill_pods_from_sandboxes();
        assert_eq!(
            catalog.container("app").unwrap().pod,
            Some(pod(Some("u-3")))
        );
    }
}
