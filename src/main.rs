//! cnetstat: every TCP socket of every network namespace on a node, with the
//! pod and container that owns it.

mod cgroup;
mod docker;
mod host_root;
mod http;
mod kubelet_logs;
mod model;
mod mountinfo;
mod netns_enter;
mod oci;
mod runtime_state;
mod sock_diag;

fn main() {}
