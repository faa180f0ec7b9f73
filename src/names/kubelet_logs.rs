//! What the kubelet's log directories name, under any CRI runtime
//! (runtimes.md §5): pods in `/var/log/pods`, and containers in the links
//! of `/var/log/containers`, whose targets hold the pod's uid.

use std::path::Path;

use super::root_files::RootFiles;
use crate::model::{ContainerInfo, PodInfo};
use crate::parse::kubelet_logs::{parse_container_log_link, parse_pod_log_dir, parse_pod_log_path};

const POD_LOG_DIR: &str = "/var/log/pods";
const CONTAINER_LOG_DIR: &str = "/var/log/containers";

pub fn pods(files: &mut RootFiles) -> Vec<PodInfo> {
    files
        .list(Path::new(POD_LOG_DIR))
        .iter()
        .filter_map(|name| parse_pod_log_dir(name.as_encoded_bytes()))
        .collect()
}

pub fn containers(files: &mut RootFiles) -> Vec<ContainerInfo> {
    let link_dir = Path::new(CONTAINER_LOG_DIR);
    let mut found = Vec::new();
    for name in files.list(link_dir) {
        let Some(link) = parse_container_log_link(name.as_encoded_bytes()) else {
            continue;
        };
        // The link's target holds the pod uid; its name does not. It is
        // read as a string, never followed.
        let from_target = files
            .read_link(&link_dir.join(&name))
            .and_then(|target| parse_pod_log_path(target.as_os_str().as_encoded_bytes()))
            .filter(|(pod, container)| {
                pod.namespace == link.namespace
                    && pod.name == link.pod
                    && *container == link.container
            });
        let pod = match from_target {
            Some((pod, _)) => pod,
            None => PodInfo {
                namespace: link.namespace,
                name: link.pod,
                uid: None,
            },
        };
        found.push(ContainerInfo {
            name: Some(link.container),
            pod: Some(pod),
            ..ContainerInfo::unnamed(link.id)
        });
    }
    found
}
