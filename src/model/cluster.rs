//! What the Kubernetes API names beyond this node: every pod, Service and
//! node of the cluster, listed once per run with `--kube`, so a remote
//! address can be named. Recorded in the snapshot, so a replay names the
//! same.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The cluster's lists as the API gave them; a list that failed is empty,
/// and a warning says so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub pods: Vec<RemotePod>,
    pub services: Vec<RemoteService>,
    pub nodes: Vec<RemoteNode>,
}

/// A pod that is not finished: Succeeded and Failed pods are left out,
/// because their IPs are released and may already be a running pod's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePod {
    pub namespace: String,
    pub name: String,
    /// `status.podIPs`, else `status.podIP`; empty while it has none.
    pub ips: Vec<IpAddr>,
    pub node: Option<String>,
    /// Its IPs are its node's, shared with every other such pod there.
    pub host_network: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteService {
    pub namespace: String,
    pub name: String,
    /// `spec.clusterIPs`, else `spec.clusterIP`; empty for headless
    /// (`None`) and ExternalName Services.
    pub cluster_ips: Vec<IpAddr>,
    /// `spec.externalIPs` and `status.loadBalancer.ingress[].ip`: addresses
    /// outside the cluster network that also reach the Service.
    pub external_ips: Vec<IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteNode {
    pub name: String,
    /// `status.addresses` of type InternalIP and ExternalIP, in the order
    /// the node lists them.
    pub addresses: Vec<IpAddr>,
}

