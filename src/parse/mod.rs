//! Pure parsers: bytes the kernel, the runtimes and the kubelet wrote, in;
//! values out. No I/O happens here, so each is tested on recorded bytes.

pub mod cgroup;
pub mod ids;
// wired in by the remote-naming change
#[allow(dead_code)]
pub mod kubeconfig;
pub mod kubelet_logs;
pub mod mountinfo;
pub mod nf_conntrack_stat;
pub mod oci;
pub mod proc_net;
pub mod proc_pid;
pub mod snmp;
pub mod sockstat;
pub mod sysctl;
