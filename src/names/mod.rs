//! Names for containers and pods, from every source the node has — the
//! Docker API, containerd's and containers/storage's bundles, the kubelet's
//! log directories — merged into one catalog (catalog.rs holds the one
//! merge policy); and the network namespaces pod sandboxes' specs name.

pub mod catalog;
pub mod containerd;
pub mod containers_storage;
pub mod docker;
pub mod http;
// wired in by the remote-naming change
#[allow(dead_code)]
pub mod kube_api;
pub mod kubelet_logs;
pub mod root_files;
pub mod sandboxes;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::collect::host_root::HostRoot;
use crate::model::{Catalog, ContainerInfo, PodInfo, Process, Runtime, Warning};
use root_files::RootFiles;

const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Names {
    pub catalog: Catalog,
    pub docker: DockerOutcome,
    pub warnings: Vec<Warning>,
}

#[derive(Clone)]
pub enum DockerOutcome {
    Listed,
    /// No DOCKER_HOST and no socket under the root: not a Docker node, or
    /// one whose socket is elsewhere.
    NoSocket(PathBuf),
    Failed(String),
}

/// Every source, Docker's API on its own thread while the files are read.
pub fn read_names(root: &HostRoot) -> Names {
    read_names_again(root, &mut None)
}

/// The same, for a source read again and again (`--watch`): a Docker call
/// that has not answered by its deadline is kept in `pending` and waited
/// for again next time, instead of a new one started beside it, so a hung
/// daemon holds one blocked thread, not one more per refresh.
pub fn read_names_again(root: &HostRoot, pending: &mut Option<docker::ListCall>) -> Names {
    let docker = match pending.take() {
        Some(call) => DockerCall::Started(call),
        None => start_docker(root),
    };
    let mut files = RootFiles::new(root);
    let on_disk = read_files(&mut files);
    let (from_docker, docker) = match docker.finish(pending) {
        Ok(containers) => (containers, DockerOutcome::Listed),
        Err(outcome) => (Vec::new(), outcome),
    };
    Names {
        catalog: merge(from_docker, on_disk),
        docker,
        warnings: files.warnings,
    }
}

/// What the node's files say, in order of trust.
struct OnDisk {
    containers: Vec<ContainerInfo>,
    log_dir_pods: Vec<PodInfo>,
}

fn read_files(files: &mut RootFiles) -> OnDisk {
    let mut containers = containerd::bundles(files);
    containers.extend(containers_storage::containers(files));
    containers.extend(kubelet_logs::containers(files));
    OnDisk {
        containers,
        log_dir_pods: kubelet_logs::pods(files),
    }
}

fn merge(from_docker: Vec<ContainerInfo>, on_disk: OnDisk) -> Catalog {
    let mut catalog = Catalog::default();
    for container in from_docker.into_iter().chain(on_disk.containers) {
        catalog.add_container(container);
    }
    catalog.fill_pods_from_sandboxes();
    for pod in on_disk.log_dir_pods {
        catalog.add_pod(pod);
    }
    catalog
}

/// A Docker API call running on its own thread.
enum DockerCall {
    Started(docker::ListCall),
    Done(DockerOutcome),
}

fn start_docker(root: &HostRoot) -> DockerCall {
    let endpoint = match docker::endpoint_from_env() {
        Some(Ok(endpoint)) => endpoint,
        Some(Err(err)) => {
            return DockerCall::Done(DockerOutcome::Failed(format!("DOCKER_HOST: {err}")))
        }
        None => {
            let candidates = ["/run/docker.sock", "/var/run/docker.sock"];
            let found = candidates.iter().map(Path::new).find_map(|path| {
                let handle = root.open_handle(path).ok()?;
                Some(docker::RootSocket {
                    handle,
                    shown: root.shown(path),
                })
            });
            match found {
                Some(socket) => docker::Endpoint::UnixInRoot(Arc::new(socket)),
                None => {
                    return DockerCall::Done(DockerOutcome::NoSocket(
                        root.path().join("run/docker.sock"),
                    ))
                }
            }
        }
    };
    // The name lookup of a tcp:// host blocks past any socket timeout: the
    // call gets its own thread, and is given up a second past its deadline
    // (the thread ends with the process).
    DockerCall::Started(docker::ListCall::start(endpoint, DOCKER_TIMEOUT))
}

impl DockerCall {
    /// Its result; a call that has not answered is left in `pending`.
    fn finish(self, pending: &mut Option<docker::ListCall>) -> Result<Vec<ContainerInfo>, DockerOutcome> {
        match self {
            DockerCall::Done(outcome) => Err(outcome),
            DockerCall::Started(mut call) => {
                let result = call
                    .wait(Duration::from_secs(1))
                    .map_err(|err| DockerOutcome::Failed(err.to_string()));
                if call.is_pending() {
                    *pending = Some(call);
                }
                result
            }
        }
    }
}

/// A Docker socket that exists but fails is worth a warning; a missing one
/// only when Docker containers run here, since a node without Docker needs
/// no word about it.
pub fn docker_warning(
    outcome: &DockerOutcome,
    processes: &[Process],
    catalog: &Catalog,
) -> Option<Warning> {
    match outcome {
        DockerOutcome::Listed => None,
        DockerOutcome::Failed(error) => Some(Warning::Docker {
            error: error.clone(),
        }),
        DockerOutcome::NoSocket(path) => {
            let unnamed_docker_runs = processes.iter().any(|p| {
                p.cgroup.as_ref().is_some_and(|cg| {
                    cg.runtime == Some(Runtime::Docker)
                        && cg
                            .container_id
                            .as_deref()
                            .is_some_and(|id| catalog.container(id).is_none())
                })
            });
            unnamed_docker_runs.then(|| Warning::Docker {
                error: format!("no socket at {} (set DOCKER_HOST)", path.display()),
            })
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

    const CTRD_SANDBOX: &str = "f80a823dbc4a6838bd597637f8026f5f72215d0ecb5080e51812384b75edf792";
    const CTRD_APP: &str = "fbe92deb5405765d16343cb0d84b71f7fff2cb350e6cfb848a6101411a351cfd";
    const OLD_SANDBOX: &str = "4cda29bbf866df0341b35c880a71bbdbcb46815d8a895e43f0f54f2fe98defa2";
    const OLD_APP: &str = "50cb9208a001c9e5a00c288648ca025f388ef3adca1d5c4ffc81893b2c483caa";
    const DOCKER: &str = "9d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e";
    const CRIO_SANDBOX: &str = "5b0c3f6a9d8e47f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819";
    const CRIO_APP: &str = "c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80910";
    const PODMAN_PLAIN: &str = "cdc0ff01adb8f151c6fae347db2ba16c7e4ec9a9954f4ef6ab948d1704646daf";
    const PODMAN_K8S: &str = "d60c70184be95e572e086b81f0073d25e865fa59659f505d7cee8f0a844594e8";
    /// Named in podman's containers.json, with no bundle (a stopped container).
    const PODMAN_INDEX_ONLY: &str =
        "7cb9bbbe91c65b850922c45b8355ee0c0a4cd530471be7e18dc3c521b60b751b";
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

    /// What the files under `root` name, without asking Docker.
    struct Discovered {
        /// Sorted by id.
        containers: Vec<ContainerInfo>,
        /// Sorted by namespace and name.
        pods: Vec<PodInfo>,
        warnings: Vec<Warning>,
    }

    fn discover(root: &HostRoot) -> Discovered {
        let mut files = RootFiles::new(root);
        let catalog = merge(Vec::new(), read_files(&mut files));
        let mut containers: Vec<ContainerInfo> = catalog.containers().cloned().collect();
        containers.sort_by(|a, b| a.id.cmp(&b.id));
        let mut pods: Vec<PodInfo> = catalog.pods.values().cloned().collect();
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Discovered {
            containers,
            pods,
            warnings: files.warnings,
        }
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
        let found = discover(&HostRoot::open(node.0.clone()).unwrap());

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
            PODMAN_INDEX_ONLY,
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

        let index_only = find(&found, PODMAN_INDEX_ONLY);
        assert_eq!(index_only.name.as_deref(), Some("cnetstat-parsers-p"));
        assert_eq!((index_only.runtime, &index_only.pod), (None, &None));

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
        let about = |path_end: &str| {
            found.warnings.iter().find_map(|w| match w {
                Warning::RuntimeFile {
                    path,
                    problem,
                    container_id,
                } if path.ends_with(path_end) => Some((problem.clone(), container_id.clone())),
                _ => None,
            })
        };
        let (problem, id) = about("k8s.io/broken/config.json").expect("a warning for broken");
        assert!(problem.starts_with("bad OCI spec"), "{problem}");
        assert_eq!(id.as_deref(), Some("broken"));
        assert!(
            about("k8s.io/isdir/config.json").is_some(),
            "{:#?}",
            found.warnings
        );
    }

    #[test]
    fn an_empty_root_finds_nothing_and_warns_about_nothing() {
        let node =
            Node(std::env::temp_dir().join(format!("cnetstat-empty-node-{}", std::process::id())));
        std::fs::create_dir_all(&node.0).unwrap();
        let found = discover(&HostRoot::open(node.0.clone()).unwrap());
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
            let found = discover(&HostRoot::open(PathBuf::from(root)).unwrap());
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

        let found = discover(&HostRoot::open(PathBuf::from("/")).unwrap());
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
