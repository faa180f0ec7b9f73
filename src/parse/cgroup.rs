//! Which container and pod a process belongs to, read from its cgroup path in
//! `/proc/<pid>/cgroup`: one `hierarchy-ID:controller-list:path` line per
//! hierarchy (cgroups(7)). The path holds kubelet's pod cgroup (`pod<uid>`,
//! or `…-pod<uid_>.slice` under the systemd driver) and, directly under it,
//! the runtime's container leaf (`cri-containerd-<id>.scope`, `crio-<id>`,
//! `docker-<id>.scope`, a bare `<id>`, …).
//!
//! Layouts and sources are in docs/runtimes.md §1 (kubelet
//! `pkg/kubelet/cm/cgroup_manager_linux.go`, containerd
//! `internal/cri/server/helpers.go`, CRI-O `internal/config/cgmgr`, moby
//! `daemon/oci_linux.go`, podman `libpod/container_internal_linux.go` and
//! `libpod/runtime_pod_linux.go`). Components are matched by shape, never by
//! an absolute prefix, because a reader in another cgroup namespace sees
//! paths relative to its own root, with `..` components (§1.5, P2).

use memchr::{memchr, memmem};

use crate::model::{CgroupRef, Runtime};
use crate::parse::ids::{ascii_string, is_container_id, is_pod_uid};

/// Reads a whole `/proc/<pid>/cgroup` file (cgroup v1, v2 or hybrid). Lines
/// are tried in the order of §1.1: the v2 `0::` line, then `name=systemd`,
/// `memory`, `pids` and `cpu*`, then the rest; a line naming a container wins,
/// else the first naming only a pod.
pub fn parse_cgroup_file(buf: &[u8]) -> Option<CgroupRef> {
    let mut pod_level = None;
    for preference in 0..=LEAST_PREFERRED_LINE {
        for line in buf.split(|&b| b == b'\n') {
            let Some((hierarchy, controllers, path)) = split_line(line) else {
                continue;
            };
            if line_preference(hierarchy, controllers) != preference {
                continue;
            }
            match parse_cgroup_path(path) {
                Some(found) if found.container_id.is_some() => return Some(found),
                Some(found) => {
                    pod_level.get_or_insert(found);
                }
                None => {}
            }
        }
    }
    pod_level
}

/// Reads one cgroup path. A Kubernetes pod cgroup wins wherever it appears
/// (the outermost one, so kind nodes running in Docker still give the pod),
/// and its container is the component directly under it: sub-groups below
/// the leaf (crun's `container`, CRI-O's `exec`) and runtimes nested inside
/// the container (Docker in Docker) never win (P11). Outside Kubernetes the
/// outermost container leaf wins. Host processes give None.
pub fn parse_cgroup_path(path: &[u8]) -> Option<CgroupRef> {
    let mut components = components(path).peekable();
    let mut outermost: Option<CgroupRef> = None;
    let mut under_top_level_docker = false;
    let mut index = 0;
    while let Some(component) = components.next() {
        if let Some(pod_uid) = pod_uid(component) {
            let leaf = components.next().and_then(container_leaf);
            return Some(CgroupRef {
                pod_uid: Some(pod_uid),
                ..leaf.map_or_else(CgroupRef::default, Leaf::into_ref)
            });
        }
        if outermost.is_none() {
            if let Some(leaf) = container_leaf(component) {
                // A podman pod under cgroupfs is a bare-id directory holding
                // `libpod-<id>` leaves; the pod id is not a container.
                let holds_named_leaf = leaf.runtime.is_none()
                    && components
                        .peek()
                        .and_then(|child| container_leaf(child))
                        .is_some_and(|child| child.runtime.is_some());
                if !holds_named_leaf {
                    let mut found = leaf.into_ref();
                    // Standalone Docker with the cgroupfs driver: `/docker/<id>`.
                    if found.runtime.is_none() && under_top_level_docker {
                        found.runtime = Some(Runtime::Docker);
                    }
                    outermost = Some(found);
                }
            }
        }
        under_top_level_docker = index == 0 && component == b"docker";
        index += 1;
    }
    outermost
}

const LEAST_PREFERRED_LINE: u8 = 4;

/// Rank of a line in the order of §1.1, 0 first. Under runc all v1
/// controllers carry the same path, but a process can sit elsewhere in one
/// hierarchy (conmon keeps `name=systemd` at `/`), so the order matters.
fn line_preference(hierarchy: &[u8], controllers: &[u8]) -> u8 {
    if hierarchy == b"0" && controllers.is_empty() {
        return 0;
    }
    controllers
        .split(|&b| b == b',')
        .map(|controller| match controller {
            b"name=systemd" => 1,
            b"memory" => 2,
            b"pids" => 3,
            _ if controller.starts_with(b"cpu") => 3,
            _ => LEAST_PREFERRED_LINE,
        })
        .min()
        .unwrap_or(LEAST_PREFERRED_LINE)
}

/// Splits a line on its first two colons only: the path may hold more (P13).
fn split_line(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let first = memchr(b':', line)?;
    let (hierarchy, rest) = (&line[..first], &line[first + 1..]);
    let second = memchr(b':', rest)?;
    Some((hierarchy, &rest[..second], &rest[second + 1..]))
}

/// The path's components without `.` and `..` (cgroupns-relative paths). A
/// component holding a colon is split at the first one: when runc runs with
/// cgroupfs but is handed a systemd `slice:prefix:id` cgroupsPath (containerd
/// `SystemdCgroup=false` under a systemd kubelet, P13), it makes one
/// directory of it, and the halves are the pod slice and `prefix:id`.
fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
        .filter(|component| !matches!(*component, b"" | b"." | b".."))
        .flat_map(|component| {
            let (before, after) = match memchr(b':', component) {
                Some(colon) => (&component[..colon], Some(&component[colon + 1..])),
                None => (component, None),
            };
            std::iter::once(before).chain(after)
        })
}

/// The pod UID, dashes restored, of a kubelet pod cgroup: `pod<uid>`
/// (cgroupfs driver) or `<prefix>-pod<uid with _ for ->.slice` (systemd
/// driver, any QoS and any cgroupRoot prefix such as kind's `kubelet-`).
fn pod_uid(component: &[u8]) -> Option<String> {
    let escaped = match component.strip_suffix(b".slice") {
        Some(slice) => {
            let pod = memmem::rfind(slice, b"-pod")?;
            &slice[pod + b"-pod".len()..]
        }
        None => component.strip_prefix(b"pod")?,
    };
    // kubelet's escapeSystemdCgroupName turns `-` into `_`; kubelet forbids
    // `_` in cgroup names, so the reverse is lossless (P4). The UID check
    // rejects look-alikes such as `machine-podman.slice`.
    let uid: String = escaped
        .iter()
        .map(|&b| char::from(if b == b'_' { b'-' } else { b }))
        .collect();
    is_pod_uid(uid.as_bytes()).then_some(uid)
}

/// A container leaf: the id, and the runtime its prefix names.
#[derive(Clone, Copy)]
struct Leaf<'a> {
    id: &'a [u8],
    runtime: Option<Runtime>,
    monitor: bool,
}

impl Leaf<'_> {
    fn into_ref(self) -> CgroupRef {
        CgroupRef {
            pod_uid: None,
            container_id: Some(ascii_string(self.id)),
            runtime: self.runtime,
            monitor: self.monitor,
        }
    }
}

/// Leaf prefixes (§1.3): the runtime that writes each, and whether it names
/// the runtime's monitor process rather than the workload.
const LEAF_PREFIXES: [(&[u8], Runtime, bool); 7] = [
    (b"cri-containerd", Runtime::Containerd, false),
    (b"crio-conmon", Runtime::CriO, true),
    (b"crio", Runtime::CriO, false),
    (b"docker", Runtime::Docker, false),
    (b"libpod-conmon", Runtime::Podman, true),
    (b"libpod", Runtime::Podman, false),
    (b"nerdctl", Runtime::Containerd, false),
];

/// `<prefix>-<id>` with or without `.scope`, `<prefix>:<id>` (the
/// misconfigured form after [`components`]), or a bare `<id>` directory,
/// which containerd and cri-dockerd make under the cgroupfs driver and whose
/// runtime the path does not tell.
fn container_leaf(component: &[u8]) -> Option<Leaf<'_>> {
    let (name, scoped) = match component.strip_suffix(b".scope") {
        Some(name) => (name, true),
        None => (component, false),
    };
    let prefixed = LEAF_PREFIXES
        .iter()
        .find_map(|&(prefix, runtime, monitor)| {
            let rest = name.strip_prefix(prefix)?;
            let id = rest
                .strip_prefix(b"-")
                .or_else(|| rest.strip_prefix(b":"))?;
            is_container_id(id).then_some(Leaf {
                id,
                runtime: Some(runtime),
                monitor,
            })
        });
    prefixed.or_else(|| {
        (!scoped && is_container_id(name)).then_some(Leaf {
            id: name,
            runtime: None,
            monitor: false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(
        pod_uid: Option<&str>,
        container_id: Option<&str>,
        runtime: Option<Runtime>,
        monitor: bool,
    ) -> Option<CgroupRef> {
        Some(CgroupRef {
            pod_uid: pod_uid.map(str::to_owned),
            container_id: container_id.map(str::to_owned),
            runtime,
            monitor,
        })
    }

    // Recorded on this machine (cgroup v1 hybrid), see testdata/cgroup/README.md.

    #[test]
    fn recorded_docker_container() {
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/docker_cgroupfs_v1_hybrid.txt"
            )),
            expect(
                None,
                Some("33b076aaa849fa6ef5aed23c323d9f8b8ab65bba8a315508c31675c9931664c2"),
                Some(Runtime::Docker),
                false
            )
        );
    }

    #[test]
    fn recorded_podman_container() {
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/podman_cgroupfs_v1_hybrid.txt"
            )),
            expect(
                None,
                Some("7cb9bbbe91c65b850922c45b8355ee0c0a4cd530471be7e18dc3c521b60b751b"),
                Some(Runtime::Podman),
                false
            )
        );
    }

    #[test]
    fn recorded_podman_conmon_under_cgroupfs_names_no_container() {
        // With --cgroup-manager cgroupfs every conmon shares
        // /libpod_parent/conmon, so the path cannot tell which container.
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/podman_conmon_cgroupfs_v1_hybrid.txt"
            )),
            None
        );
    }

    #[test]
    fn recorded_host_processes() {
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/host_pid1_v1_hybrid.txt"
            )),
            None
        );
        // memory:/process_api/<32 hex>: a 32-hex component is not a pod
        // without its `pod` prefix.
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/host_daemon_containerd_v1_hybrid.txt"
            )),
            None
        );
    }

    #[test]
    fn recorded_containerd_cgroupfs_burstable_pod() {
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/containerd_k8s_cgroupfs_burstable_v1_hybrid.txt"
            )),
            expect(
                Some("212f9bcf-08cb-46b5-9a3e-72c9256f3b00"),
                Some("972fe05b750ced599a021c163c7688cb621dcd51aa5cbb0ddcfeba71f84d642e"),
                None,
                false
            )
        );
    }

    #[test]
    fn recorded_containerd_cgroupfs_static_pod() {
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/containerd_k8s_cgroupfs_static_pod_besteffort_v1_hybrid.txt"
            )),
            expect(
                Some("ab78f7c43cc13919f3dc8399ba4f1826"),
                Some("85460eeb82ae5b65166a3e908dbb39505c9490f8829256600a3c5c868fa57b76"),
                None,
                false
            )
        );
    }

    #[test]
    fn recorded_containerd_systemd_layout_guaranteed_pod() {
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/containerd_k8s_systemd_layout_guaranteed_v1_hybrid.txt"
            )),
            expect(
                Some("e7e5eae0-45f0-455b-8fe8-21e9569ec0da"),
                Some("015219975b85bc66eb1f887ba93f42017c98c0ab10259040a787079095984889"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn recorded_containerd_kind_layout() {
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/containerd_kind_systemd_layout_burstable_v1_hybrid.txt"
            )),
            expect(
                Some("d2e485a9-f247-4e6b-8f44-e841bb0f36b7"),
                Some("faa7960d593557a037a6094f93dd2aa23e9ef9aeb073cbf70ab55e0137499779"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn recorded_containerd_misconfigured_systemd_path() {
        // One directory named `kubepods-besteffort-pod<uid_>.slice:cri-containerd:<id>`;
        // the memory line also sits under the reader's own memory cgroup.
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/containerd_misconfigured_systemd_path_on_cgroupfs_v1_hybrid.txt"
            )),
            expect(
                Some("789b1b9b-8044-498a-b18f-ce6da2ab292e"),
                Some("d89b9571410726fdb8053db7645f23d1446cd1d82d5cd326cfc30b65b21ae946"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn recorded_from_inside_a_cgroup_namespace() {
        // The reader sat in another container of the same pod: the pod
        // component is above the reader's cgroupns root and shows as `..`.
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/cgroupns_sibling_container_in_same_pod_v1_hybrid.txt"
            )),
            expect(
                None,
                Some("be1d03c568381912478e9180d40fa5162eb32d45f9ba44b5eb6b5bc6c3a66c87"),
                Some(Runtime::Containerd),
                false
            )
        );
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/cgroupns_container_in_other_pod_v1_hybrid.txt"
            )),
            expect(
                Some("212f9bcf-08cb-46b5-9a3e-72c9256f3b00"),
                Some("972fe05b750ced599a021c163c7688cb621dcd51aa5cbb0ddcfeba71f84d642e"),
                None,
                false
            )
        );
        assert_eq!(
            parse_cgroup_file(include_bytes!(
                "../../testdata/cgroup/cgroupns_host_daemon_v1_hybrid.txt"
            )),
            None
        );
    }

    // The test vectors of docs/runtimes.md §1.6, with the elided ids written out.

    #[test]
    fn vector_systemd_burstable_containerd() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod193c20d9_34af_4b69_b119_2e75aa9023d1.slice/cri-containerd-423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04.scope"),
            expect(
                Some("193c20d9-34af-4b69-b119-2e75aa9023d1"),
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn vector_cgroupfs_besteffort_bare_id() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods/besteffort/pod9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                Some("9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3"),
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                None,
                false
            )
        );
    }

    #[test]
    fn vector_crio_guaranteed_exec_under_crun_container() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods.slice/kubepods-pod0f0e0d0c_0000_4000_8000_000000000001.slice/crio-bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947.scope/container/exec"),
            expect(
                Some("0f0e0d0c-0000-4000-8000-000000000001"),
                Some("bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947"),
                Some(Runtime::CriO),
                false
            )
        );
    }

    #[test]
    fn vector_crio_conmon() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f0e0d0c_0000_4000_8000_000000000001.slice/crio-conmon-bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947.scope"),
            expect(
                Some("0f0e0d0c-0000-4000-8000-000000000001"),
                Some("bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947"),
                Some(Runtime::CriO),
                true
            )
        );
    }

    #[test]
    fn vector_cgroupns_relative_path() {
        assert_eq!(
            parse_cgroup_path(b"/../../../kubepods-burstable.slice/kubepods-burstable-pod193c20d9_34af_4b69_b119_2e75aa9023d1.slice/cri-containerd-423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04.scope"),
            expect(
                Some("193c20d9-34af-4b69-b119-2e75aa9023d1"),
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn vector_cgroupns_sibling_without_pod() {
        assert_eq!(
            parse_cgroup_path(b"/../cri-containerd-423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04.scope"),
            expect(
                None,
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn vector_kind_cgroup_root() {
        assert_eq!(
            parse_cgroup_path(b"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod193c20d9_34af_4b69_b119_2e75aa9023d1.slice/cri-containerd-423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04.scope"),
            expect(
                Some("193c20d9-34af-4b69-b119-2e75aa9023d1"),
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn vector_static_pod_uid() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods/burstable/pod6c1f6b9a0e2d4c53a8d2d0b8f5e7c911/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                Some("6c1f6b9a0e2d4c53a8d2d0b8f5e7c911"),
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                None,
                false
            )
        );
    }

    #[test]
    fn vector_pod_level_process() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod193c20d9_34af_4b69_b119_2e75aa9023d1.slice"),
            expect(Some("193c20d9-34af-4b69-b119-2e75aa9023d1"), None, None, false)
        );
    }

    #[test]
    fn vector_misconfigured_containerd() {
        assert_eq!(
            parse_cgroup_path(b"/system.slice/containerd.service/kubepods-burstable-pod193c20d9_34af_4b69_b119_2e75aa9023d1.slice:cri-containerd:423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
            expect(
                Some("193c20d9-34af-4b69-b119-2e75aa9023d1"),
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn vector_standalone_docker_both_drivers() {
        let docker = expect(
            None,
            Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            Some(Runtime::Docker),
            false,
        );
        assert_eq!(
            parse_cgroup_path(b"/system.slice/docker-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope"),
            docker
        );
        assert_eq!(
            parse_cgroup_path(
                b"/docker/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"
            ),
            docker
        );
    }

    #[test]
    fn standalone_docker_seen_from_a_cgroup_namespace() {
        // `..` components do not count as the top level.
        assert_eq!(
            parse_cgroup_path(b"/../../../docker/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                Some(Runtime::Docker),
                false
            )
        );
    }

    #[test]
    fn vector_podman_systemd_with_crun_subgroup() {
        assert_eq!(
            parse_cgroup_path(b"/machine.slice/libpod-bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947.scope/container"),
            expect(
                None,
                Some("bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947"),
                Some(Runtime::Podman),
                false
            )
        );
    }

    #[test]
    fn vector_docker_in_docker_inside_a_pod_gives_outer_id() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod193c20d9_34af_4b69_b119_2e75aa9023d1.slice/docker-423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04.scope/docker/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                Some("193c20d9-34af-4b69-b119-2e75aa9023d1"),
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Docker),
                false
            )
        );
    }

    #[test]
    fn vector_host_paths() {
        for path in [
            &b"/system.slice/containerd.service"[..],
            b"/",
            b"",
            b"/user.slice/user-1000.slice/session-3.scope",
            b"/system.slice/kubelet.service",
            b"/init.scope",
        ] {
            assert_eq!(parse_cgroup_path(path), None, "{}", path.escape_ascii());
        }
    }

    #[test]
    fn vector_machine_podman_slice_is_not_a_pod() {
        assert_eq!(
            parse_cgroup_path(b"/machine.slice/machine-podman.slice/libpod-bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947.scope"),
            expect(
                None,
                Some("bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947"),
                Some(Runtime::Podman),
                false
            )
        );
    }

    // Layouts of §1.3 beyond the table.

    #[test]
    fn cgroupfs_guaranteed_pod_with_crio_leaf() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods/pod9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3/crio-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                Some("9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3"),
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                Some(Runtime::CriO),
                false
            )
        );
    }

    #[test]
    fn cri_dockerd_under_systemd_driver() {
        assert_eq!(
            parse_cgroup_path(b"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podd1c54b44_724f_4f4e_af25_cd1e3c15eddc.slice/docker-bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947.scope"),
            expect(
                Some("d1c54b44-724f-4f4e-af25-cd1e3c15eddc"),
                Some("bd2fe3511cf6212da745edb16913bad049a5fd0b0484071b7e1f39937f38a947"),
                Some(Runtime::Docker),
                false
            )
        );
    }

    #[test]
    fn kind_node_in_docker_gives_the_pod_not_the_node() {
        assert_eq!(
            parse_cgroup_path(b"/docker/423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod193c20d9_34af_4b69_b119_2e75aa9023d1.slice/cri-containerd-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope"),
            expect(
                Some("193c20d9-34af-4b69-b119-2e75aa9023d1"),
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                Some(Runtime::Containerd),
                false
            )
        );
        // The node's own kubelet belongs to the node container.
        assert_eq!(
            parse_cgroup_path(b"/docker/423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04/system.slice/kubelet.service"),
            expect(
                None,
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Docker),
                false
            )
        );
    }

    #[test]
    fn standalone_docker_in_docker_gives_outer_id() {
        assert_eq!(
            parse_cgroup_path(b"/docker/423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04/docker/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                None,
                Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04"),
                Some(Runtime::Docker),
                false
            )
        );
    }

    #[test]
    fn podman_cgroupfs_pod_directory_is_not_a_container() {
        // libpod/runtime_pod_linux.go: pod cgroup = <parent>/<pod id>.
        assert_eq!(
            parse_cgroup_path(b"/libpod_parent/423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04/libpod-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                Some(Runtime::Podman),
                false
            )
        );
    }

    #[test]
    fn podman_systemd_conmon_and_rootless() {
        assert_eq!(
            parse_cgroup_path(b"/machine.slice/libpod-conmon-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope"),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                Some(Runtime::Podman),
                true
            )
        );
        assert_eq!(
            parse_cgroup_path(b"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope"),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                Some(Runtime::Podman),
                false
            )
        );
    }

    #[test]
    fn nerdctl_scope() {
        assert_eq!(
            parse_cgroup_path(b"/system.slice/nerdctl-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope"),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                Some(Runtime::Containerd),
                false
            )
        );
    }

    #[test]
    fn bare_id_outside_top_level_docker_has_no_runtime() {
        // containerd without CRI (`ctr`) puts containers at /<namespace>/<id>.
        assert_eq!(
            parse_cgroup_path(
                b"/default/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"
            ),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                None,
                false
            )
        );
    }

    #[test]
    fn only_a_top_level_docker_parent_names_docker() {
        assert_eq!(
            parse_cgroup_path(b"/system.slice/docker/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                None,
                false
            )
        );
    }

    #[test]
    fn ids_of_the_wrong_shape_are_not_containers() {
        for path in [
            // 63 and 65 hex characters.
            &b"/docker/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee3"[..],
            b"/docker/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee366",
            // Upper case.
            b"/docker/D28E0087CF8F3F0429F755D60B0DE415B20FCF76736DED7BAB6E30E7B739EE36",
            // A bare id is never a systemd scope.
            b"/system.slice/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope",
            // An unknown prefix.
            b"/system.slice/runc-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope",
            b"/system.slice/dockerd28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope",
        ] {
            assert_eq!(parse_cgroup_path(path), None, "{}", path.escape_ascii());
        }
    }

    #[test]
    fn malformed_pod_uids_are_not_pods() {
        // One character short; then a leaf under it is still found, without a pod.
        assert_eq!(
            parse_cgroup_path(b"/kubepods/burstable/pod9a18ffb8-8513-11e7-b26e-7e29fbe2a5a/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
            expect(
                None,
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                None,
                false
            )
        );
        assert_eq!(
            parse_cgroup_path(
                b"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podnot_a_uid.slice"
            ),
            None
        );
    }

    // Line handling in parse_cgroup_file.

    #[test]
    fn file_prefers_the_v2_line_over_v1_lines() {
        let file = b"4:memory:/docker/423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04\n\
                     0::/system.slice/docker-d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36.scope\n";
        assert_eq!(
            parse_cgroup_file(file).and_then(|found| found.container_id),
            Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36".to_owned())
        );
    }

    #[test]
    fn file_falls_back_from_root_lines_to_memory() {
        let file = b"9:name=systemd:/\n\
                     8:pids:/\n\
                     4:memory:/docker/423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04\n\
                     0::/\n";
        assert_eq!(
            parse_cgroup_file(file).and_then(|found| found.container_id),
            Some("423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04".to_owned())
        );
    }

    #[test]
    fn file_takes_a_container_over_an_earlier_pod_level_line() {
        let file = b"0::/kubepods/burstable/pod9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3\n\
                     2:cpu,cpuacct:/kubepods/burstable/pod9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3/d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36\n";
        assert_eq!(
            parse_cgroup_file(file),
            expect(
                Some("9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3"),
                Some("d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"),
                None,
                false
            )
        );
        let pod_only = b"0::/kubepods/burstable/pod9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3\n";
        assert_eq!(
            parse_cgroup_file(pod_only),
            expect(
                Some("9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3"),
                None,
                None,
                false
            )
        );
    }

    #[test]
    fn file_with_garbage_gives_none() {
        for file in [
            &b""[..],
            b"\n\n",
            b"no colons here",
            b"1:only-one-colon",
            b"\xff\xfe:\x00:",
        ] {
            assert_eq!(parse_cgroup_file(file), None, "{}", file.escape_ascii());
        }
    }

    #[test]
    fn line_preferences() {
        assert_eq!(line_preference(b"0", b""), 0);
        assert_eq!(line_preference(b"9", b"name=systemd"), 1);
        assert_eq!(line_preference(b"4", b"memory"), 2);
        assert_eq!(line_preference(b"8", b"pids"), 3);
        assert_eq!(line_preference(b"2", b"cpu,cpuacct"), 3);
        assert_eq!(line_preference(b"7", b"blkio"), 4);
        assert_eq!(line_preference(b"3", b"net_cls,net_prio"), 4);
    }
}
