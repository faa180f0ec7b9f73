//! Names for containers and pods, from every source the node has: the
//! Docker API and the runtimes' and kubelet's files, merged in a catalog;
//! and the network namespaces pod sandboxes' OCI specs name.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::attribute::ProcessInfo;
use crate::catalog::Catalog;
use crate::diagnostics::warn;
use crate::docker;
use crate::host_root::HostRoot;
use crate::model::{ContainerInfo, Runtime};
use crate::mountinfo;
use crate::runtime_state;

const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);

pub fn build_catalog(root: &HostRoot) -> (Catalog, DockerOutcome) {
    let mut catalog = Catalog::default();
    let docker = docker_containers(root);
    if let DockerOutcome::Listed(containers) = &docker {
        for info in containers {
            catalog.add_container(info.clone());
        }
    }
    let discovered = runtime_state::discover(root);
    for message in discovered.warnings {
        warn(message);
    }
    for info in discovered.containers {
        catalog.add_container(info);
    }
    for pod in discovered.pods {
        catalog.add_pod(pod);
    }
    (catalog, docker)
}

pub enum DockerOutcome {
    Listed(Vec<ContainerInfo>),
    /// No DOCKER_HOST and no socket under the root: not a Docker node, or
    /// one whose socket is elsewhere.
    NoSocket(PathBuf),
    Failed(String),
}

fn docker_containers(root: &HostRoot) -> DockerOutcome {
    let endpoint = match docker::endpoint_from_env() {
        Some(Ok(endpoint)) => endpoint,
        Some(Err(err)) => return DockerOutcome::Failed(format!("DOCKER_HOST: {err}")),
        None => {
            let candidates = ["/run/docker.sock", "/var/run/docker.sock"];
            let found = candidates
                .iter()
                .filter_map(|p| root.resolve(Path::new(p)).ok())
                .find(|p| p.exists());
            match found {
                Some(path) => docker::Endpoint::Unix(path),
                None => return DockerOutcome::NoSocket(root.path().join("run/docker.sock")),
            }
        }
    };
    // connect(2) to a Unix socket whose daemon stopped accepting, and the
    // name lookup of a tcp:// host, block past any socket timeout: the call
    // gets its own thread, and is given up at the deadline (the thread ends
    // with the process).
    let (answer, answered) = mpsc::channel();
    let described = endpoint.to_string();
    std::thread::spawn(move || {
        let _ = answer.send(docker::list_containers(&endpoint, DOCKER_TIMEOUT));
    });
    match answered.recv_timeout(DOCKER_TIMEOUT + Duration::from_secs(1)) {
        Ok(Ok(containers)) => DockerOutcome::Listed(containers),
        Ok(Err(err)) => DockerOutcome::Failed(err.to_string()),
        Err(_) => DockerOutcome::Failed(format!(
            "{described}: no answer within {} s (a stopped daemon, or one not accepting connections)",
            DOCKER_TIMEOUT.as_secs() + 1
        )),
    }
}

/// A Docker socket that exists but fails is worth a warning; a missing one
/// only when Docker containers run here, since a node without Docker needs
/// no word about it.
pub fn warn_docker_if_needed(
    processes: &[ProcessInfo],
    (catalog, docker): (Catalog, DockerOutcome),
) -> Catalog {
    match docker {
        DockerOutcome::Failed(err) => warn(format_args!(
            "docker: {err}; Docker containers are shown by id only"
        )),
        DockerOutcome::NoSocket(path) => {
            let docker_runs = processes.iter().any(|p| {
                p.cgroup.as_ref().is_some_and(|cg| {
                    cg.runtime == Some(Runtime::Docker)
                        && cg
                            .container_id
                            .as_deref()
                            .is_some_and(|id| catalog.container(id).is_none())
                })
            });
            if docker_runs {
                warn(format_args!(
                    "docker: no socket at {} (set DOCKER_HOST); Docker containers are shown by id only",
                    path.display()
                ));
            }
        }
        DockerOutcome::Listed(_) => {}
    }
    catalog
}

/// Network namespace inode → the sandbox whose OCI spec names it, so a pod's
/// namespace is known even when no process of the pod is left in it.
pub fn sandbox_namespaces<'a>(
    catalog: &'a Catalog,
    root: &HostRoot,
    mounts: &[mountinfo::NsMount],
) -> HashMap<u64, &'a ContainerInfo> {
    let nsfs_dev = std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.dev());
    let mut map = HashMap::new();
    for info in catalog
        .containers()
        .filter(|c| c.sandbox && c.pod.is_some())
    {
        let Some(path) = &info.netns_path else {
            continue;
        };
        // `/proc/<pid>/ns/net` names the namespace of a process, found anyway.
        if path.starts_with("/proc") {
            continue;
        }
        let by_stat = root
            .resolve(path)
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .filter(|m| Some(m.dev()) == nsfs_dev)
            .map(|m| m.ino());
        let by_mount = || {
            let canonical = canonical_run(path);
            mounts
                .iter()
                .find(|m| canonical_run(&m.mount_point) == canonical)
                .map(|m| m.inode)
        };
        if let Some(inode) = by_stat.or_else(by_mount) {
            map.insert(inode, info);
        }
    }
    map
}

/// `/var/run` is a link to `/run` on every distribution that has both.
fn canonical_run(path: &Path) -> PathBuf {
    match path.strip_prefix("/var/run") {
        Ok(rest) => Path::new("/run").join(rest),
        Err(_) => path.to_path_buf(),
    }
}
