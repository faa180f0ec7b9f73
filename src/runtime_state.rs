//! Every container and pod the node's disk names, without asking any daemon:
//!
//! - containerd bundles,
//!   `{/run,/var/run}/{containerd,k3s/containerd}/io.containerd.runtime.{v2.task,v1.linux}/<ns>/<id>/config.json`
//!   (runtimes.md §3.1), in every containerd namespace (`k8s.io` for CRI,
//!   `moby` for Docker, `default` for ctr/nerdctl);
//! - CRI-O and podman bundles,
//!   `{/run,/var/lib}/containers/storage/<driver>-containers/<id>/userdata/config.json`,
//!   and podman's names in `containers.json` / `volatile-containers.json`
//!   next to them (runtimes.md §4.1, §4.5);
//! - the kubelet's `/var/log/pods` and `/var/log/containers` (runtimes.md §5),
//!   which name pods and containers under any CRI runtime.
//!
//! Every path goes through [`HostRoot`], so under `/host` the node's
//! `/var/run -> /run` link lands in `/host/run` (runtimes.md P1). Missing
//! directories are normal (a node runs one or two runtimes); a file that
//! cannot be read or parsed becomes a warning, never an abort.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Deserialize;

use crate::cgroup::is_container_id;
use crate::host_root::{with_path, HostRoot};
use crate::kubelet_logs::{parse_container_log_link, parse_pod_log_dir, parse_pod_log_path};
use crate::model::{ContainerInfo, PodInfo, Runtime};
use crate::oci::{parse_config_json, OciConfig};
use crate::procfs::read_into;

#[derive(Debug, Default)]
pub struct Discovered {
    /// One entry per container id, sorted by id. Runtime state files come
    /// first; the kubelet's log links only fill gaps or add containers no
    /// runtime state names (with `runtime: None`).
    pub containers: Vec<ContainerInfo>,
    /// Every pod with a known uid, once, sorted by namespace and name: from
    /// `/var/log/pods` and from the containers' annotations.
    pub pods: Vec<PodInfo>,
    /// One line per file or directory that exists but could not be read or
    /// parsed, naming its path.
    pub warnings: Vec<String>,
}

pub fn discover(root: &HostRoot) -> Discovered {
    let mut discovery = Discovery {
        root,
        buffer: Vec::new(),
        seen_dirs: HashSet::new(),
        configs: Vec::new(),
        index: HashMap::new(),
        warnings: Vec::new(),
    };
    discovery.containerd_bundles();
    discovery.storage_bundles();
    discovery.fill_from_sandboxes();
    let pods = discovery.kubelet_logs();
    discovery.finish(pods)
}

const CONTAINERD_STATE_DIRS: [&str; 4] = [
    "/run/containerd",
    "/var/run/containerd",
    "/run/k3s/containerd",
    "/var/run/k3s/containerd",
];
const CONTAINERD_RUNTIME_PLUGINS: [&str; 2] = [
    "io.containerd.runtime.v2.task",
    "io.containerd.runtime.v1.linux",
];
/// The containerd namespace dockerd keeps its containers in.
const DOCKER_NAMESPACE: &str = "moby";

const STORAGE_ROOTS: [&str; 2] = ["/run/containers/storage", "/var/lib/containers/storage"];
const STORAGE_NAME_INDEXES: [&str; 2] = ["containers.json", "volatile-containers.json"];

const POD_LOG_DIR: &str = "/var/log/pods";
const CONTAINER_LOG_DIR: &str = "/var/log/containers";

struct Discovery<'r> {
    root: &'r HostRoot,
    /// Reused for every file read.
    buffer: Vec<u8>,
    /// (st_dev, st_ino) of directories already listed: `/var/run` is
    /// usually `/run`, and nothing should be read twice.
    seen_dirs: HashSet<(u64, u64)>,
    configs: Vec<OciConfig>,
    /// Container id -> position in `configs`.
    index: HashMap<String, usize>,
    warnings: Vec<String>,
}

impl Discovery<'_> {
    fn containerd_bundles(&mut self) {
        for state_dir in CONTAINERD_STATE_DIRS {
            for plugin in CONTAINERD_RUNTIME_PLUGINS {
                let plugin_dir = Path::new(state_dir).join(plugin);
                if !self.first_visit(&plugin_dir) {
                    continue;
                }
                for namespace in self.list(&plugin_dir) {
                    let namespace_dir = plugin_dir.join(&namespace);
                    for id in self.list(&namespace_dir) {
                        let config_path = namespace_dir.join(&id).join("config.json");
                        let Some(mut config) = self.read_config(&config_path, &id) else {
                            continue;
                        };
                        if config.container.runtime.is_none() {
                            config.container.runtime = Some(if namespace == DOCKER_NAMESPACE {
                                Runtime::Docker
                            } else {
                                Runtime::Containerd
                            });
                        }
                        self.add(config);
                    }
                }
            }
        }
    }

    fn storage_bundles(&mut self) {
        let mut storage_names = HashMap::new();
        for storage_root in STORAGE_ROOTS {
            let storage_root = Path::new(storage_root);
            if !self.first_visit(storage_root) {
                continue;
            }
            for driver in self.list(storage_root) {
                if !driver.as_bytes().ends_with(b"-containers") {
                    continue;
                }
                let driver_dir = storage_root.join(&driver);
                for index in STORAGE_NAME_INDEXES {
                    let path = driver_dir.join(index);
                    if let Some(bytes) = self.read(&path) {
                        match parse_storage_names(bytes) {
                            Ok(names) => storage_names.extend(names),
                            Err(err) => self.warn(&path, &format!("bad JSON: {err}")),
                        }
                    }
                }
                // containers/storage generates 64-hex ids; the directory also
                // holds the index files and their locks.
                for id in self.list(&driver_dir) {
                    if !is_container_id(id.as_bytes()) {
                        continue;
                    }
                    let config_path = driver_dir.join(&id).join("userdata/config.json");
                    if let Some(config) = self.read_config(&config_path, &id) {
                        self.add(config);
                    }
                }
            }
        }
        for config in &mut self.configs {
            if config.container.name.is_none() {
                config.container.name = storage_names.remove(&config.container.id);
            }
        }
    }

    /// containerd before 1.5 names the pod only on the sandbox, and before
    /// 1.6.11 has no uid on app containers (runtimes.md P5): take them from
    /// the sandbox the app container points to.
    fn fill_from_sandboxes(&mut self) {
        for position in 0..self.configs.len() {
            let config = &self.configs[position];
            let lacks_uid = config
                .container
                .pod
                .as_ref()
                .map_or(true, |pod| pod.uid.is_none());
            let Some(sandbox_id) = config.sandbox_id.as_ref() else {
                continue;
            };
            if !lacks_uid || *sandbox_id == config.container.id {
                continue;
            }
            let Some(sandbox_pod) = self
                .index
                .get(sandbox_id)
                .and_then(|&sandbox| self.configs[sandbox].container.pod.clone())
            else {
                continue;
            };
            fill_pod(&mut self.configs[position].container.pod, sandbox_pod);
        }
    }

    /// Adds what the kubelet's log layout says and returns the pods found in
    /// `/var/log/pods`.
    fn kubelet_logs(&mut self) -> Vec<PodInfo> {
        let pod_log_dir = Path::new(POD_LOG_DIR);
        let pods = self
            .list(pod_log_dir)
            .iter()
            .filter_map(|name| parse_pod_log_dir(name.as_bytes()))
            .collect();

        let link_dir = Path::new(CONTAINER_LOG_DIR);
        let names = self.list(link_dir);
        if names.is_empty() {
            return pods;
        }
        let resolved_link_dir = match self.root.resolve(link_dir) {
            Ok(dir) => dir,
            Err(err) => {
                self.warnings.push(err.to_string());
                return pods;
            }
        };
        for name in names {
            let Some(link) = parse_container_log_link(name.as_bytes()) else {
                continue;
            };
            // The link's target holds the pod uid; its name does not. It is
            // read as a string, never followed, so it needs no resolving.
            let from_target = std::fs::read_link(resolved_link_dir.join(&name))
                .ok()
                .and_then(|target| parse_pod_log_path(target.as_os_str().as_bytes()))
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
            match self.index.get(&link.id) {
                Some(&position) => {
                    let known = &mut self.configs[position].container;
                    known.name.get_or_insert(link.container);
                    fill_pod(&mut known.pod, pod);
                }
                None => self.add(OciConfig {
                    container: ContainerInfo {
                        id: link.id,
                        runtime: None,
                        name: Some(link.container),
                        pod: Some(pod),
                        sandbox: false,
                        netns_path: None,
                    },
                    sandbox_id: None,
                }),
            }
        }
        pods
    }

    fn finish(self, log_dir_pods: Vec<PodInfo>) -> Discovered {
        let mut containers: Vec<ContainerInfo> = self
            .configs
            .into_iter()
            .map(|config| config.container)
            .collect();
        containers.sort_by(|a, b| a.id.cmp(&b.id));
        let mut pods: Vec<PodInfo> = log_dir_pods
            .into_iter()
            .chain(
                containers
                    .iter()
                    .filter_map(|container| container.pod.clone()),
            )
            .filter(|pod| pod.uid.is_some())
            .collect();
        pods.sort_by(|a, b| (&a.namespace, &a.name, &a.uid).cmp(&(&b.namespace, &b.name, &b.uid)));
        pods.dedup();
        Discovered {
            containers,
            pods,
            warnings: dedup_in_order(self.warnings),
        }
    }

    /// The first bundle found for an id wins: CRI-O writes the same spec
    /// under both `/run` and `/var/lib`.
    fn add(&mut self, config: OciConfig) {
        if self.index.contains_key(&config.container.id) {
            return;
        }
        self.index
            .insert(config.container.id.clone(), self.configs.len());
        self.configs.push(config);
    }

    /// Whether `host_dir` is an existing directory not listed before under
    /// another name.
    fn first_visit(&mut self, host_dir: &Path) -> bool {
        let metadata = self
            .root
            .resolve(host_dir)
            .and_then(|dir| std::fs::metadata(&dir).map_err(|err| with_path(err, &dir)));
        match metadata {
            Ok(metadata) => self.seen_dirs.insert((metadata.dev(), metadata.ino())),
            Err(err) => {
                if err.kind() != io::ErrorKind::NotFound {
                    self.warnings.push(err.to_string());
                }
                false
            }
        }
    }

    /// The names in a host directory; nothing when it does not exist.
    fn list(&mut self, host_dir: &Path) -> Vec<std::ffi::OsString> {
        match self.root.read_dir_names(host_dir) {
            Ok(names) => names,
            Err(err) => {
                if err.kind() != io::ErrorKind::NotFound {
                    self.warnings.push(err.to_string());
                }
                Vec::new()
            }
        }
    }

    fn read_config(&mut self, host_path: &Path, id: &OsStr) -> Option<OciConfig> {
        let Some(id) = id.to_str() else {
            self.warn(host_path, "container id is not UTF-8");
            return None;
        };
        let bytes = self.read(host_path)?;
        match parse_config_json(bytes, id) {
            Ok(config) => Some(config),
            Err(err) => {
                self.warn(host_path, &format!("bad OCI spec: {err}"));
                None
            }
        }
    }

    /// Reads a whole file into the shared buffer. A missing file is not a
    /// warning: bundles come and go while we list them.
    fn read(&mut self, host_path: &Path) -> Option<&[u8]> {
        self.buffer.clear();
        let result = self.root.resolve(host_path).and_then(|path| {
            read_into(&path, &mut self.buffer).map_err(|err| with_path(err, &path))
        });
        match result {
            Ok(_) => Some(&self.buffer),
            Err(err) => {
                if err.kind() != io::ErrorKind::NotFound {
                    self.warnings.push(err.to_string());
                }
                None
            }
        }
    }

    fn warn(&mut self, host_path: &Path, problem: &str) {
        let shown = self
            .root
            .resolve(host_path)
            .unwrap_or_else(|_| host_path.to_path_buf());
        self.warnings
            .push(format!("{}: {problem}", shown.display()));
    }
}

/// One entry of containers/storage's `containers.json`; podman's names are
/// in `names` (its first is the one `podman ps` shows).
#[derive(Deserialize)]
struct StorageContainer {
    id: String,
    #[serde(default)]
    names: Vec<String>,
}

/// Container id -> first name, from a containers/storage name index.
fn parse_storage_names(bytes: &[u8]) -> Result<Vec<(String, String)>, serde_json::Error> {
    let entries: Vec<StorageContainer> = serde_json::from_slice(bytes)?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| Some((entry.id, entry.names.into_iter().next()?)))
        .collect())
}

/// One failing directory (say, a root we may not enter) fails every path
/// under it: say so once.
fn dedup_in_order(warnings: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    warnings
        .into_iter()
        .filter(|warning| seen.insert(warning.clone()))
        .collect()
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
    use std::io::Read;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/testdata/oci/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn pod(namespace: &str, name: &str, uid: &str) -> PodInfo {
        PodInfo {
            namespace: namespace.into(),
            name: name.into(),
            uid: Some(uid.into()),
        }
    }

    #[test]
    fn storage_names_come_from_the_recorded_podman_index() {
        let names = parse_storage_names(&fixture("podman-4.3-containers.json")).unwrap();
        assert_eq!(
            names,
            [
                (
                    "cdc0ff01adb8f151c6fae347db2ba16c7e4ec9a9954f4ef6ab948d1704646daf".to_owned(),
                    "cnetstat-runtimes-plain".to_owned()
                ),
                (
                    "d60c70184be95e572e086b81f0073d25e865fa59659f505d7cee8f0a844594e8".to_owned(),
                    "cnetstat-runtimes-k8s".to_owned()
                ),
                (
                    "7cb9bbbe91c65b850922c45b8355ee0c0a4cd530471be7e18dc3c521b60b751b".to_owned(),
                    "cnetstat-parsers-p".to_owned()
                ),
            ]
        );
        assert!(parse_storage_names(b"{}").is_err());
    }

    const CTRD_SANDBOX: &str = "f80a823dbc4a6838bd597637f8026f5f72215d0ecb5080e51812384b75edf792";
    const CTRD_APP: &str = "fbe92deb5405765d16343cb0d84b71f7fff2cb350e6cfb848a6101411a351cfd";
    const OLD_SANDBOX: &str = "4cda29bbf866df0341b35c880a71bbdbcb46815d8a895e43f0f54f2fe98defa2";
    const OLD_APP: &str = "50cb9208a001c9e5a00c288648ca025f388ef3adca1d5c4ffc81893b2c483caa";
    const DOCKER: &str = "9d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e";
    const CRIO_SANDBOX: &str = "5b0c3f6a9d8e47f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819";
    const CRIO_APP: &str = "c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80910";
    const PODMAN_PLAIN: &str = "cdc0ff01adb8f151c6fae347db2ba16c7e4ec9a9954f4ef6ab948d1704646daf";
    const PODMAN_K8S: &str = "d60c70184be95e572e086b81f0073d25e865fa59659f505d7cee8f0a844594e8";
    /// Known only from a /var/log/containers link (e.g. a dockershim node).
    const LOG_ONLY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    struct Node(PathBuf);

    impl Drop for Node {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl Node {
        fn put(&self, host_path: &str, bytes: &[u8]) {
            let path = self.0.join(host_path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }

        fn link(&self, host_path: &str, target: &str) {
            let path = self.0.join(host_path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            symlink(target, path).unwrap();
        }
    }

    /// A node root as a debug pod sees it at /host: Debian's absolute
    /// `var/run -> /run`, `var/lib/containers` moved to `/srv`, containerd (with Docker's `moby` namespace), k3s,
    /// CRI-O, podman and the kubelet's log dirs side by side.
    fn mixed_node() -> Node {
        let node = Node(std::env::temp_dir().join(format!("cnetstat-node-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&node.0);
        std::fs::create_dir_all(node.0.join("run")).unwrap();
        node.link("/var/run", "/run");
        // Container storage moved to a data disk: an absolute link that the
        // kernel would follow out of the root, into the test machine's /srv.
        std::fs::create_dir_all(node.0.join("srv/containers")).unwrap();
        node.link("/var/lib/containers", "/srv/containers");

        let v2 = "/run/containerd/io.containerd.runtime.v2.task";
        node.put(
            &format!("{v2}/k8s.io/{CTRD_SANDBOX}/config.json"),
            &fixture("containerd-1.6-sandbox.json"),
        );
        node.put(
            &format!("{v2}/k8s.io/{CTRD_APP}/config.json"),
            &fixture("containerd-1.6-container.json"),
        );
        node.put(
            &format!("{v2}/k8s.io/broken/config.json"),
            b"{\"annotations\": {",
        );
        std::fs::create_dir_all(node.0.join(&v2[1..]).join("k8s.io/gone")).unwrap();
        std::fs::create_dir_all(node.0.join(&v2[1..]).join("k8s.io/isdir/config.json")).unwrap();
        node.put(
            &format!("{v2}/moby/{DOCKER}/config.json"),
            br#"{"ociVersion":"1.0.2-dev","linux":{"namespaces":[{"type":"mount"},{"type":"network"}]}}"#,
        );
        let k3s = "/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io";
        node.put(
            &format!("{k3s}/{OLD_SANDBOX}/config.json"),
            &fixture("containerd-1.4-style-sandbox.json"),
        );
        node.put(
            &format!("{k3s}/{OLD_APP}/config.json"),
            &fixture("containerd-1.4-style-container.json"),
        );

        let run_storage = "/run/containers/storage/overlay-containers";
        let lib_storage = "/srv/containers/storage/overlay-containers";
        node.put(
            &format!("{run_storage}/{CRIO_SANDBOX}/userdata/config.json"),
            &fixture("crio-constructed-sandbox.json"),
        );
        node.put(
            &format!("{run_storage}/{CRIO_APP}/userdata/config.json"),
            &fixture("crio-constructed-container.json"),
        );
        node.put(
            &format!("{lib_storage}/{CRIO_APP}/userdata/config.json"),
            &fixture("crio-constructed-container.json"),
        );
        node.put(
            &format!("{lib_storage}/{PODMAN_PLAIN}/userdata/config.json"),
            &fixture("podman-4.3-plain.json"),
        );
        node.put(
            &format!("{lib_storage}/{PODMAN_K8S}/userdata/config.json"),
            &fixture("podman-4.3-k8s-annotations.json"),
        );
        node.put(
            &format!("{lib_storage}/containers.json"),
            &fixture("podman-4.3-containers.json"),
        );
        node.put(&format!("{lib_storage}/containers.lock"), b"");

        std::fs::create_dir_all(node.0.join(
            "var/log/pods/shop_web-7c5ddbdf54-x2x9q_2d4a904a-5088-4e64-a8f6-6f838b61517a/nginx",
        ))
        .unwrap();
        std::fs::create_dir_all(node.0.join("var/log/pods/kube-system_coredns-558bd4d5db-7xk2p_092cfabe-2c2b-4f57-943e-fd82154da56f")).unwrap();
        std::fs::create_dir_all(node.0.join("var/log/pods/not-a-pod-dir")).unwrap();
        node.link(
            &format!("/var/log/containers/web-7c5ddbdf54-x2x9q_shop_nginx-{CTRD_APP}.log"),
            "/var/log/pods/shop_web-7c5ddbdf54-x2x9q_2d4a904a-5088-4e64-a8f6-6f838b61517a/nginx/0.log",
        );
        node.link(
            &format!("/var/log/containers/legacy-0_default_app-{LOG_ONLY}.log"),
            "/var/log/pods/default_legacy-0_aa11bb22-cc33-dd44-ee55-ff6677889900/app/2.log",
        );
        node
    }

    fn find<'a>(found: &'a Discovered, id: &str) -> &'a ContainerInfo {
        found
            .containers
            .iter()
            .find(|container| container.id == id)
            .unwrap_or_else(|| panic!("{id} not discovered in {:#?}", found.containers))
    }

    #[test]
    fn discovers_every_runtime_inside_the_root_only() {
        let node = mixed_node();
        let found = discover(&HostRoot::new(node.0.clone()));

        // Exactly these: nothing leaked in from the test machine's own /run.
        let ids: Vec<&str> = found.containers.iter().map(|c| c.id.as_str()).collect();
        let mut expected = vec![
            CTRD_SANDBOX,
            CTRD_APP,
            OLD_SANDBOX,
            OLD_APP,
            DOCKER,
            CRIO_SANDBOX,
            CRIO_APP,
            PODMAN_PLAIN,
            PODMAN_K8S,
            LOG_ONLY,
        ];
        expected.sort();
        assert_eq!(ids, expected);

        let app = find(&found, CTRD_APP);
        assert_eq!(app.runtime, Some(Runtime::Containerd));
        assert_eq!(app.name.as_deref(), Some("nginx"));
        assert_eq!(
            app.pod,
            Some(pod(
                "shop",
                "web-7c5ddbdf54-x2x9q",
                "2d4a904a-5088-4e64-a8f6-6f838b61517a"
            ))
        );

        // containerd 1.4: the app container's pod comes from its sandbox's log directory.
        let old = find(&found, OLD_APP);
        assert_eq!(old.name.as_deref(), Some("coredns"));
        assert_eq!(
            old.pod,
            Some(pod(
                "kube-system",
                "coredns-558bd4d5db-7xk2p",
                "092cfabe-2c2b-4f57-943e-fd82154da56f"
            ))
        );
        assert!(find(&found, OLD_SANDBOX).sandbox);

        let docker = find(&found, DOCKER);
        assert_eq!(
            (docker.runtime, &docker.name, &docker.pod),
            (Some(Runtime::Docker), &None, &None)
        );

        let crio = find(&found, CRIO_SANDBOX);
        assert_eq!(crio.runtime, Some(Runtime::CriO));
        assert!(crio.sandbox);
        assert_eq!(
            crio.netns_path.as_deref(),
            Some(Path::new(
                "/var/run/netns/0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19"
            ))
        );

        let plain = find(&found, PODMAN_PLAIN);
        assert_eq!(plain.runtime, Some(Runtime::Podman));
        assert_eq!(plain.name.as_deref(), Some("cnetstat-runtimes-plain"));
        assert_eq!(plain.pod, None);
        // Annotated podman keeps the Kubernetes container name, not its podman name.
        assert_eq!(find(&found, PODMAN_K8S).name.as_deref(), Some("api"));

        let log_only = find(&found, LOG_ONLY);
        assert_eq!(log_only.runtime, None);
        assert_eq!(log_only.name.as_deref(), Some("app"));
        assert_eq!(
            log_only.pod,
            Some(pod(
                "default",
                "legacy-0",
                "aa11bb22-cc33-dd44-ee55-ff6677889900"
            ))
        );

        assert_eq!(
            found.pods,
            [
                pod(
                    "default",
                    "legacy-0",
                    "aa11bb22-cc33-dd44-ee55-ff6677889900"
                ),
                pod(
                    "kube-system",
                    "coredns-558bd4d5db-7xk2p",
                    "092cfabe-2c2b-4f57-943e-fd82154da56f"
                ),
                pod(
                    "monitoring",
                    "prometheus-0",
                    "e3b0c442-98fc-4c14-9afb-f4c8996fb924"
                ),
                pod(
                    "payments",
                    "api-5f7d8c9b6-q4w2e",
                    "7b3e9f10-2c4d-4a8e-b1f6-0d9c8e7a6b54"
                ),
                pod(
                    "shop",
                    "web-7c5ddbdf54-x2x9q",
                    "2d4a904a-5088-4e64-a8f6-6f838b61517a"
                ),
            ]
        );

        // The bad JSON and the directory named config.json, each once and
        // named by its path; the missing config.json of `gone` is silent.
        assert_eq!(found.warnings.len(), 2, "{:#?}", found.warnings);
        assert!(
            found
                .warnings
                .iter()
                .any(|w| w.contains("k8s.io/broken/config.json: bad OCI spec")),
            "{:#?}",
            found.warnings
        );
        assert!(
            found
                .warnings
                .iter()
                .any(|w| w.contains("k8s.io/isdir/config.json")),
            "{:#?}",
            found.warnings
        );
    }

    #[test]
    fn an_empty_root_finds_nothing_and_warns_about_nothing() {
        let node =
            Node(std::env::temp_dir().join(format!("cnetstat-empty-node-{}", std::process::id())));
        std::fs::create_dir_all(&node.0).unwrap();
        let found = discover(&HostRoot::new(node.0.clone()));
        assert!(found.containers.is_empty());
        assert!(found.pods.is_empty());
        assert!(found.warnings.is_empty(), "{:#?}", found.warnings);
    }

    /// Runs a command, giving its stdout, or why it failed.
    fn run(program: &str, args: &[&str]) -> Result<String, String> {
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .map_err(|err| format!("{program}: {err}"))?;
        if !output.status.success() {
            return Err(format!(
                "{program} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn random_id() -> String {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut bytes)
            .unwrap();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const BUSYBOX_TAR: &str = "/tmp/busybox.tar";

    /// Kills and deletes a ctr container, even when the test fails.
    struct CtrContainer {
        id: String,
        rootfs: PathBuf,
    }

    impl Drop for CtrContainer {
        fn drop(&mut self) {
            let _ = run("ctr", &["-n", "k8s.io", "tasks", "rm", "-f", &self.id]);
            let _ = run("ctr", &["-n", "k8s.io", "containers", "rm", &self.id]);
            let _ = std::fs::remove_dir_all(&self.rootfs);
        }
    }

    /// A container in containerd's CRI namespace with the annotations
    /// containerd ≥ 1.6.11 CRI writes, found without asking containerd,
    /// through `/` and through `/proc/self/root`: the same tree, but a root
    /// other than `/`, so every link (`/var/run -> /run` here) is followed by
    /// hand. (`/proc/1/root` would be the node's root, but this sandbox
    /// denies it even to root.)
    #[test]
    fn live_containerd_container_is_named_from_its_bundle() {
        if let Err(why) = run("ctr", &["version"]) {
            println!("skipped: containerd unavailable: {why}");
            return;
        }
        if !Path::new(BUSYBOX_TAR).exists() {
            println!("skipped: no {BUSYBOX_TAR} to make a rootfs from");
            return;
        }
        let id = random_id();
        let container = CtrContainer {
            rootfs: std::env::temp_dir().join(format!("cnetstat-live-rootfs-{}", &id[..12])),
            id,
        };
        std::fs::create_dir_all(&container.rootfs).unwrap();
        run(
            "tar",
            &["xf", BUSYBOX_TAR, "-C", container.rootfs.to_str().unwrap()],
        )
        .unwrap();
        let uid = "4b6d8f0a-1c3e-4a5b-8c7d-9e0f1a2b3c4d";
        run(
            "ctr",
            &[
                "-n",
                "k8s.io",
                "run",
                "-d",
                "--rootfs",
                "--annotation",
                "io.kubernetes.cri.container-type=container",
                "--annotation",
                "io.kubernetes.cri.container-name=live-app",
                "--annotation",
                "io.kubernetes.cri.sandbox-namespace=live-ns",
                "--annotation",
                "io.kubernetes.cri.sandbox-name=live-pod",
                "--annotation",
                &format!("io.kubernetes.cri.sandbox-uid={uid}"),
                container.rootfs.to_str().unwrap(),
                &container.id,
                "/bin/sleep",
                "60",
            ],
        )
        .unwrap();

        for root in ["/", "/proc/self/root"] {
            let found = discover(&HostRoot::new(PathBuf::from(root)));
            let got = find(&found, &container.id);
            assert_eq!(got.runtime, Some(Runtime::Containerd), "root {root}");
            assert_eq!(got.name.as_deref(), Some("live-app"), "root {root}");
            assert_eq!(
                got.pod,
                Some(pod("live-ns", "live-pod", uid)),
                "root {root}"
            );
            assert!(!got.sandbox);
            let copies = found
                .containers
                .iter()
                .filter(|c| c.id == container.id)
                .count();
            assert_eq!(copies, 1, "/run and /var/run listed twice under {root}");
        }
    }

    /// Removes podman containers and the image tag, even when the test fails.
    struct PodmanContainers {
        names: Vec<String>,
        image: String,
    }

    impl Drop for PodmanContainers {
        fn drop(&mut self) {
            for name in &self.names {
                let _ = run(
                    "podman",
                    &["--cgroup-manager", "cgroupfs", "rm", "-f", "-t", "0", name],
                );
            }
            let _ = run("podman", &["rmi", &self.image]);
        }
    }

    /// A plain podman container, named from containers.json, and one with
    /// Kubernetes annotations, named from them.
    #[test]
    fn live_podman_containers_are_named_from_storage() {
        if let Err(why) = run("podman", &["--version"]) {
            println!("skipped: podman unavailable: {why}");
            return;
        }
        if !Path::new(BUSYBOX_TAR).exists() {
            println!("skipped: no {BUSYBOX_TAR} to import");
            return;
        }
        let tag = &random_id()[..12];
        let guard = PodmanContainers {
            names: vec![
                format!("cnetstat-live-plain-{tag}"),
                format!("cnetstat-live-k8s-{tag}"),
            ],
            image: format!("localhost/cnetstat-live-busybox:{tag}"),
        };
        run("podman", &["import", BUSYBOX_TAR, &guard.image]).unwrap();
        let common = [
            "--cgroup-manager",
            "cgroupfs",
            "run",
            "-d",
            "--pull",
            "never",
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ];
        let run_container = |name: &str, extra: &[&str]| {
            let mut args: Vec<&str> = common.to_vec();
            args.extend(["--name", name]);
            args.extend(extra);
            args.extend([guard.image.as_str(), "/bin/sleep", "60"]);
            run("podman", &args).unwrap().trim().to_owned()
        };
        let plain_id = run_container(&guard.names[0], &[]);
        let uid = "5c7e9a1b-2d4f-4b6c-9d8e-0f1a2b3c4d5e";
        let pod_uid = format!("io.kubernetes.pod.uid={uid}");
        let k8s_id = run_container(
            &guard.names[1],
            &[
                "--annotation",
                "io.kubernetes.pod.namespace=live-ns",
                "--annotation",
                "io.kubernetes.pod.name=live-pod",
                "--annotation",
                &pod_uid,
                "--annotation",
                "io.kubernetes.container.name=live-app",
            ],
        );

        let found = discover(&HostRoot::new(PathBuf::from("/")));
        let plain = find(&found, &plain_id);
        assert_eq!(plain.runtime, Some(Runtime::Podman));
        assert_eq!(plain.name.as_deref(), Some(guard.names[0].as_str()));
        assert_eq!(plain.pod, None);
        let k8s = find(&found, &k8s_id);
        assert_eq!(k8s.runtime, Some(Runtime::Podman));
        assert_eq!(k8s.name.as_deref(), Some("live-app"));
        assert_eq!(k8s.pod, Some(pod("live-ns", "live-pod", uid)));
    }
}
