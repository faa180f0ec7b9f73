//! Which rows a view keeps: the states, owners and endpoints the user asked
//! for, in the spirit of ss's filters; and, for a name that no owner on the
//! node has, a note with the nearest names that exist.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::attribute::{Attributed, Owner, Row};
use super::remote::{RemoteKind, RemoteName};
use super::order::natural;
use crate::model::{PodInfo, Protocols, Snapshot, StateSet};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerFilter {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// A container's name, or its id from 12 characters up.
    pub container: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub protocols: Protocols,
    /// The kernel's numbering, which UDP shares: a UDP socket is
    /// ESTABLISHED or CLOSE (UNCONN).
    pub states: StateSet,
    pub owner: OwnerFilter,
    pub remote: Option<RemoteFilter>,
    pub local: Option<EndpointFilter>,
    /// Either end's port.
    pub port: Option<u16>,
}

impl Filter {
    pub fn keeps(&self, attributed: &Attributed<'_>, row: &Row<'_>) -> bool {
        let s = row.socket;
        self.protocols.has(s.proto.transport())
            && self.states.contains(s.state)
            && self.owner.matches(attributed.owner(row))
            && self.remote.as_ref().map_or(true, |f| {
                f.matches(s.remote, s.remote_port, attributed.remote(row).name)
            })
            && self
                .local
                .as_ref()
                .map_or(true, |f| f.matches(s.local, s.local_port))
            && self
                .port
                .map_or(true, |p| s.local_port == p || s.remote_port == p)
    }

    /// A note when the view asks for a protocol whose tables the snapshot
    /// does not hold: a recording made before UDP was read has none, and
    /// an empty answer must not read as "no UDP sockets".
    pub fn unread_protocols(&self, snapshot: &Snapshot) -> Option<String> {
        (self.protocols.udp && !snapshot.protocols.udp).then(|| {
            "this snapshot holds no UDP sockets (it was recorded by a cnetstat that read TCP only)"
                .into()
        })
    }
}

impl OwnerFilter {
    pub fn matches(&self, owner: &Owner<'_>) -> bool {
        let wanted = |filter: &Option<String>, value: Option<&str>| {
            filter.as_deref().map_or(true, |f| value == Some(f))
        };
        let container = self.container.as_deref().map_or(true, |f| {
            owner.container == Some(f) || owner.container_id.is_some_and(|id| is_short_id(f, id))
        });
        wanted(&self.namespace, owner.namespace) && wanted(&self.pod, owner.pod) && container
    }

    /// One note for each name given that nothing on the node has, naming
    /// the nearest that exist: a typo must not read as "no sockets".
    pub fn unknown_names(&self, snapshot: &Snapshot, owners: &[Owner<'_>]) -> Vec<String> {
        let pods: Vec<&PodInfo> = snapshot
            .catalog
            .containers()
            .filter_map(|c| c.pod.as_ref())
            .chain(snapshot.catalog.pods.values())
            .collect();
        let mut namespaces: Vec<&str> = pods.iter().map(|p| p.namespace.as_str()).collect();
        namespaces.extend(owners.iter().filter_map(|o| o.namespace));
        let mut pod_names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        pod_names.extend(owners.iter().filter_map(|o| o.pod));
        let mut containers: Vec<&str> = snapshot
            .catalog
            .containers()
            .filter_map(|c| c.name.as_deref())
            .collect();
        containers.extend(owners.iter().filter_map(|o| o.container));
        let ids: Vec<&str> = snapshot
            .catalog
            .containers()
            .map(|c| c.id.as_str())
            .chain(owners.iter().filter_map(|o| o.container_id))
            .collect();

        let mut notes = Vec::new();
        let mut check = |flag: &str,
                         what: &str,
                         given: &Option<String>,
                         known: &mut Vec<&str>,
                         exists: bool| {
            let Some(given) = given else { return };
            if exists || known.iter().any(|name| name == given) {
                return;
            }
            notes.push(format!(
                "{flag} {given}: no {what} of that name on this node{}",
                nearest(given, known)
            ));
        };
        check(
            "--namespace",
            "Kubernetes namespace",
            &self.namespace,
            &mut namespaces,
            false,
        );
        check("--pod", "pod", &self.pod, &mut pod_names, false);
        let id_matches = self
            .container
            .as_deref()
            .is_some_and(|given| ids.iter().any(|id| is_short_id(given, id)));
        check(
            "--container",
            "container",
            &self.container,
            &mut containers,
            id_matches,
        );
        notes
    }
}

/// `given` names the container `id` by its first 12 characters or more, as
/// `docker ps` shows it.
fn is_short_id(given: &str, id: &str) -> bool {
    given.len() >= 12 && id.starts_with(given)
}

/// `; nearest: a, b, c`, the names closest to `given` by edit distance.
fn nearest(given: &str, known: &mut Vec<&str>) -> String {
    known.sort_unstable_by(|a, b| natural(a, b));
    known.dedup();
    if known.is_empty() {
        return "; none is known here".into();
    }
    let given_lower = given.to_lowercase();
    let mut scored: Vec<(usize, &str)> = known
        .iter()
        .map(|name| (edit_distance(&given_lower, &name.to_lowercase()), *name))
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| natural(a.1, b.1)));
    let names: Vec<&str> = scored.iter().take(3).map(|(_, name)| *name).collect();
    format!("; nearest: {}", names.join(", "))
}

/// Levenshtein distance, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// `ADDR`, `ADDR/LEN` or a bare `:PORT`, with an optional `:PORT` after an
/// IPv4 address and `[IPv6]:PORT` (or `[IPv6/LEN]:PORT`) for IPv6. An IPv4
/// address also matches its v4-mapped IPv6 form (`::ffff:10.0.0.5`), which
/// dual-stack sockets show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointFilter {
    net: Option<(IpAddr, u8)>,
    port: Option<u16>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadEndpoint(String);

impl fmt::Display for BadEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `--remote`: an address, or what the remote end is by name
/// (`svc/NS/NAME`, `pod/NS/NAME`, `node/NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteFilter {
    Endpoint(EndpointFilter),
    Named {
        kind: RemoteKind,
        namespace: Option<String>,
        name: String,
    },
}

impl RemoteFilter {
    pub fn matches(&self, address: IpAddr, port: u16, named: Option<RemoteName<'_>>) -> bool {
        match self {
            RemoteFilter::Endpoint(endpoint) => endpoint.matches(address, port),
            RemoteFilter::Named {
                kind,
                namespace,
                name,
            } => named.is_some_and(|named| {
                named.kind == *kind
                    && named.namespace == namespace.as_deref()
                    && named.name == Some(name.as_str())
            }),
        }
    }
}

impl RemoteFilter {
    /// A note when a name given matches no remote end, saying where names
    /// come from: an empty answer must not read as "no such traffic".
    pub fn unknown_name(&self, attributed: &Attributed<'_>, with_cluster: bool) -> Option<String> {
        let RemoteFilter::Named { kind, namespace, name } = self else {
            return None;
        };
        let found = attributed.remotes.iter().any(|remote| {
            let wanted = |named: Option<RemoteName>| {
                named.is_some_and(|n| {
                    n.kind == *kind && n.namespace == namespace.as_deref() && n.name == Some(name.as_str())
                })
            };
            wanted(remote.name) || wanted(remote.backend)
        });
        if found {
            return None;
        }
        let given = match namespace {
            Some(namespace) => format!("{}/{namespace}/{name}", kind.short()),
            None => format!("{}/{name}", kind.short()),
        };
        let reach = if with_cluster {
            "no socket of this node talks to it"
        } else {
            "no socket talks to it by a name this node knows (--kube names the whole cluster)"
        };
        Some(format!("--remote {given}: {reach}"))
    }
}

impl FromStr for RemoteFilter {
    type Err = BadEndpoint;

    fn from_str(text: &str) -> Result<RemoteFilter, BadEndpoint> {
        let Some((prefix, rest)) = text.split_once('/') else {
            return text.parse().map(RemoteFilter::Endpoint);
        };
        let kind = match prefix {
            "svc" | "service" => RemoteKind::Service,
            "pod" => RemoteKind::Pod,
            "node" => RemoteKind::Node,
            // An address with a prefix length.
            _ => return text.parse().map(RemoteFilter::Endpoint),
        };
        let bad = |why: &str| BadEndpoint(format!("'{text}': {why}"));
        let (namespace, name) = match (kind, rest.split_once('/')) {
            (RemoteKind::Node, None) => (None, rest),
            (RemoteKind::Node, Some(_)) => return Err(bad("expected node/NAME")),
            (_, Some((namespace, name))) => (Some(namespace.to_owned()), name),
            (_, None) => return Err(bad(&format!("expected {prefix}/NAMESPACE/NAME"))),
        };
        if name.is_empty() || name.contains('/') || namespace.as_deref() == Some("") {
            return Err(bad("a name is not empty and has no '/'"));
        }
        Ok(RemoteFilter::Named {
            kind,
            namespace,
            name: name.to_owned(),
        })
    }
}

impl FromStr for EndpointFilter {
    type Err = BadEndpoint;

    fn from_str(text: &str) -> Result<EndpointFilter, BadEndpoint> {
        let bad = |why: &str| BadEndpoint(format!("'{text}': {why}"));
        let (address, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("no ']' after the IPv6 address"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected :PORT after ']'"))?,
                ),
            };
            (Some(inside), port)
        } else if let Some(port) = text.strip_prefix(':').filter(|rest| !rest.contains(':')) {
            (None, Some(port))
        } else if text.matches(':').count() == 1 {
            let (address, port) = text.split_once(':').unwrap_or((text, ""));
            (Some(address), Some(port))
        } else {
            // No colon (IPv4), or an unbracketed IPv6 address: no port.
            (Some(text), None)
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| bad("the port must be a number from 0 to 65535"))
            })
            .transpose()?;
        let net = address
            .map(|address| {
                let (ip, len) = match address.split_once('/') {
                    Some((ip, len)) => (ip, Some(len)),
                    None => (address, None),
                };
                let ip: IpAddr = ip.parse().map_err(|_| bad("not an IP address"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let len = match len {
                    Some(len) => len
                        .parse::<u8>()
                        .ok()
                        .filter(|len| *len <= max)
                        .ok_or_else(|| bad(&format!("the prefix length must be 0 to {max}")))?,
                    None => max,
                };
                Ok(canonical(ip, len))
            })
            .transpose()?;
        if net.is_none() && port.is_none() {
            return Err(bad("expected ADDR, ADDR/LEN, ADDR:PORT or :PORT"));
        }
        Ok(EndpointFilter { net, port })
    }
}

impl EndpointFilter {
    pub fn matches(&self, address: IpAddr, port: u16) -> bool {
        self.port.map_or(true, |p| p == port)
            && self.net.map_or(true, |(net, len)| {
                in_prefix(unmapped(address), net, len)
            })
    }
}

/// A prefix with v4-mapped IPv6 as the IPv4 it maps, so both spellings
/// compare equal.
fn canonical(ip: IpAddr, len: u8) -> (IpAddr, u8) {
    match unmapped(ip) {
        v4 @ IpAddr::V4(_) if ip.is_ipv6() && len >= 96 => (v4, len - 96),
        _ => (ip, len),
    }
}

/// v4-mapped IPv6 as the IPv4 it maps: a dual-stack socket's addresses,
/// ports and tuples are IPv4's.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn in_prefix(address: IpAddr, net: IpAddr, len: u8) -> bool {
    match (address, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(text: &str) -> EndpointFilter {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_ports_and_prefixes() {
        let exact = filter("10.0.0.5");
        assert!(exact.matches(ip("10.0.0.5"), 443));
        assert!(exact.matches(ip("::ffff:10.0.0.5"), 443));
        assert!(!exact.matches(ip("10.0.0.6"), 443));
        let with_port = filter("10.0.0.5:443");
        assert!(with_port.matches(ip("10.0.0.5"), 443));
        assert!(!with_port.matches(ip("10.0.0.5"), 80));
        let net = filter("10.0.0.0/8");
        assert!(net.matches(ip("10.200.3.4"), 1) && !net.matches(ip("11.0.0.1"), 1));
        assert!(net.matches(ip("::ffff:10.1.1.1"), 1));
        assert!(filter("10.0.0.0/8:53").matches(ip("10.1.1.1"), 53));
        assert!(filter("0.0.0.0/0").matches(ip("192.0.2.1"), 1));
        let v6 = filter("[2001:db8::/32]:443");
        assert!(v6.matches(ip("2001:db8:1::9"), 443) && !v6.matches(ip("2001:db9::1"), 443));
        assert!(filter("2001:db8::1").matches(ip("2001:db8::1"), 7));
        assert!(filter("[::1]:8080").matches(ip("::1"), 8080));
        assert!(filter("::ffff:10.0.0.5").matches(ip("10.0.0.5"), 1));
        let port_only = filter(":443");
        assert!(port_only.matches(ip("10.9.9.9"), 443) && !port_only.matches(ip("10.9.9.9"), 80));
        assert!(!filter("10.0.0.5").matches(ip("2001:db8::1"), 1));
    }

    #[test]
    fn bad_endpoints_say_why() {
        for (text, needle) in [
            ("10.0.0", "not an IP address"),
            ("10.0.0.5:99999", "port must be"),
            ("10.0.0.5:x", "port must be"),
            ("10.0.0.0/33", "prefix length must be 0 to 32"),
            ("[::1", "no ']'"),
            ("[::1]443", "expected :PORT"),
            ("", "not an IP address"),
            (":", "port must be"),
            ("cart-0", "not an IP address"),
        ] {
            let err = text.parse::<EndpointFilter>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn udp_asked_of_a_tcp_only_snapshot_is_noted() {
        let mut filter = Filter {
            protocols: Protocols::BOTH,
            states: StateSet::ALL,
            owner: OwnerFilter::default(),
            remote: None,
            local: None,
            port: None,
        };
        let mut snapshot = crate::model::testing::snapshot();
        assert_eq!(filter.unread_protocols(&snapshot), None);
        snapshot.protocols = Protocols::TCP;
        let note = filter.unread_protocols(&snapshot).unwrap();
        assert!(note.contains("no UDP sockets"), "{note}");
        filter.protocols = Protocols::TCP;
        assert_eq!(filter.unread_protocols(&snapshot), None);
    }

    #[test]
    fn nearest_names_by_edit_distance() {
        let mut known = vec!["cart-1", "cart-0", "checkout-7", "web-0", "cart-1"];
        assert_eq!(
            nearest("Cart-1", &mut known),
            "; nearest: cart-1, cart-0, web-0"
        );
        assert_eq!(nearest("x", &mut Vec::new()), "; none is known here");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn remote_names_and_addresses() {
        let named = |kind, namespace: Option<&str>, name: &str| RemoteFilter::Named {
            kind,
            namespace: namespace.map(Into::into),
            name: name.into(),
        };
        let parse = |text: &str| text.parse::<RemoteFilter>();
        assert_eq!(
            parse("svc/kube-system/kube-dns"),
            Ok(named(RemoteKind::Service, Some("kube-system"), "kube-dns"))
        );
        assert_eq!(
            parse("service/a/b"),
            Ok(named(RemoteKind::Service, Some("a"), "b"))
        );
        assert_eq!(parse("pod/shop/db-0"), Ok(named(RemoteKind::Pod, Some("shop"), "db-0")));
        assert_eq!(parse("node/node-2"), Ok(named(RemoteKind::Node, None, "node-2")));
        assert_eq!(parse("10.0.0.0/8"), Ok(RemoteFilter::Endpoint(filter("10.0.0.0/8"))));
        for bad in ["pod/db-0", "node/a/b", "svc//x", "svc/a/", "pod/a/b/c"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let db = RemoteName {
            kind: RemoteKind::Pod,
            namespace: Some("shop"),
            name: Some("db-0"),
        };
        let ip: IpAddr = "10.1.0.6".parse().unwrap();
        assert!(named(RemoteKind::Pod, Some("shop"), "db-0").matches(ip, 5432, Some(db)));
        assert!(!named(RemoteKind::Pod, Some("shop"), "db-1").matches(ip, 5432, Some(db)));
        assert!(!named(RemoteKind::Service, Some("shop"), "db-0").matches(ip, 5432, Some(db)));
        assert!(!named(RemoteKind::Pod, Some("shop"), "db-0").matches(ip, 5432, None));
    }
}
