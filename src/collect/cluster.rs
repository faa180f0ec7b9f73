//! `--kube`: the cluster's pods, Services and nodes from the Kubernetes
//! API, one list call each within [`DEADLINE`], so remote addresses beyond
//! this node can be named. Where no credentials work or a list fails, one
//! warning each, and names stop at what the node itself knows.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use super::files::{self, Cap};
use super::host_root::HostRoot;
use crate::model::{Cluster, Warning};
use crate::names::kube_api::{self, KubeSource};

/// For resolving credentials and all three lists together: the API server
/// answers in milliseconds, and an incident cannot wait on one that does not.
pub const DEADLINE: Duration = Duration::from_secs(3);

/// Lists the cluster with the first of `sources` whose credentials resolve.
pub fn list(sources: &[KubeSource], root: &HostRoot) -> (Option<Cluster>, Vec<Warning>) {
    let mut refusals = Vec::new();
    for source in sources {
        let read = |path: &Path| read_file(source, root, path);
        let access = match kube_api::resolve_access(source, &read) {
            Ok(access) => access,
            Err(error) => {
                refusals.push(error.to_string());
                continue;
            }
        };
        let names = kube_api::list_cluster(&access, DEADLINE);
        let warnings = names
            .problems
            .iter()
            .map(|problem| Warning::Kube {
                source: Some(access.source.clone()),
                error: problem.to_string(),
            })
            .collect();
        let cluster = Cluster {
            pods: names.pods,
            services: names.services,
            nodes: names.nodes,
        };
        return (Some(cluster), warnings);
    }
    let warning = Warning::Kube {
        source: None,
        error: format!("no credentials worked: {}", refusals.join("; ")),
    };
    (None, vec![warning])
}

/// A kubeconfig or service-account file: the kubelet's under the node's
/// root (following links inside it: `kubelet-client-current.pem` is one),
/// the others where cnetstat runs (following links: a service account's
/// files are links into `..data`).
fn read_file(source: &KubeSource, root: &HostRoot, path: &Path) -> io::Result<Vec<u8>> {
    let file = match source {
        KubeSource::KubeletUnderRoot(_) => root.open_file(path)?,
        KubeSource::Kubeconfig(_) | KubeSource::InCluster => File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?,
    };
    let mut buf = Vec::new();
    files::read_regular(file, Cap::KUBE_FILE, &mut buf)?;
    Ok(buf)
}
