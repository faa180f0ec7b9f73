//! containerd's bundles on disk (runtimes.md §3.1):
//! `{/run,/var/run}/{containerd,k3s/containerd}/io.containerd.runtime.{v2.task,v1.linux}/<ns>/<id>/config.json`,
//! in every containerd namespace: `k8s.io` for CRI, `moby` for Docker,
//! `default` for ctr and nerdctl.

use std::path::Path;

use super::root_files::RootFiles;
use crate::collect::files::Cap;
use crate::model::{ContainerInfo, Runtime};
use crate::parse::oci::parse_config_json;

const STATE_DIRS: [&str; 4] = [
    "/run/containerd",
    "/var/run/containerd",
    "/run/k3s/containerd",
    "/var/run/k3s/containerd",
];
const RUNTIME_PLUGINS: [&str; 2] = [
    "io.containerd.runtime.v2.task",
    "io.containerd.runtime.v1.linux",
];
/// The containerd namespace dockerd keeps its containers in.
const DOCKER_NAMESPACE: &str = "moby";

pub fn bundles(files: &mut RootFiles) -> Vec<ContainerInfo> {
    let mut found = Vec::new();
    for state_dir in STATE_DIRS {
        for plugin in RUNTIME_PLUGINS {
            let plugin_dir = Path::new(state_dir).join(plugin);
            if !files.first_visit(&plugin_dir) {
                continue;
            }
            for namespace in files.list(&plugin_dir) {
                let namespace_dir = plugin_dir.join(&namespace);
                for id in files.list(&namespace_dir) {
                    let config_path = namespace_dir.join(&id).join("config.json");
                    let Some(mut container) = read_bundle(files, &config_path, &id) else {
                        continue;
                    };
                    // A spec without CRI annotations (ctr, Docker's own
                    // bundles) is still this runtime's container.
                    container
                        .runtime
                        .get_or_insert(if namespace == DOCKER_NAMESPACE {
                            Runtime::Docker
                        } else {
                            Runtime::Containerd
                        });
                    found.push(container);
                }
            }
        }
    }
    found
}

/// One bundle's `config.json`; the directory's name is the container id.
pub fn read_bundle(
    files: &mut RootFiles,
    config_path: &Path,
    id: &std::ffi::OsStr,
) -> Option<ContainerInfo> {
    let Some(id) = id.to_str() else {
        files.warn(config_path, "container id is not UTF-8".into(), None);
        return None;
    };
    let bytes = files.read(config_path, Cap::OCI_SPEC, Some(id))?;
    match parse_config_json(bytes, id) {
        Ok(container) => Some(container),
        Err(err) => {
            files.warn(config_path, format!("bad OCI spec: {err}"), Some(id));
            None
        }
    }
}
