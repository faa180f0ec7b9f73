//! Every container and pod the node's runtimes and kubelet name: container
//! id → names, pod uid → pod. How sources are merged into it is
//! names/catalog.rs's business; this is the lookup analysis uses.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::container::{ContainerInfo, PodInfo};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    pub(crate) containers: HashMap<String, ContainerInfo>,
    /// Only pods with a uid: the uid is how processes' cgroups name them.
    pub(crate) pods: HashMap<String, PodInfo>,
}

impl Catalog {
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

/// In a recording: two lists, sorted, so the same node gives the same bytes.
#[derive(Serialize, Deserialize)]
struct Lists<C, P> {
    containers: Vec<C>,
    pods: Vec<P>,
}

impl Serialize for Catalog {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut containers: Vec<&ContainerInfo> = self.containers.values().collect();
        containers.sort_by(|a, b| a.id.cmp(&b.id));
        let mut pods: Vec<&PodInfo> = self.pods.values().collect();
        pods.sort_by(|a, b| a.uid.cmp(&b.uid));
        Lists { containers, pods }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Catalog {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Catalog, D::Error> {
        let lists = Lists::<ContainerInfo, PodInfo>::deserialize(deserializer)?;
        Ok(Catalog {
            containers: lists
                .containers
                .into_iter()
                .map(|c| (c.id.clone(), c))
                .collect(),
            pods: lists
                .pods
                .into_iter()
                .filter_map(|p| Some((p.uid.clone()?, p)))
                .collect(),
        })
    }
}
