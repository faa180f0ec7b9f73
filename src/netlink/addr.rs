//! The interface addresses of the calling thread's namespace, IPv4 and
//! IPv6, from one rtnetlink RTM_GETADDR dump: what `ip addr` shows, and
//! how pod addresses are learned (ports.md §6). The socket must be made
//! after entering the namespace, inside `in_netns`: its namespace is fixed
//! when it is created.
//!
//! Each address is an RTM_NEWADDR message: `struct ifaddrmsg` then
//! attributes (linux/if_addr.h), in host byte order:
//!
//! ```text
//! 0 ifa_family  1 ifa_prefixlen  2 ifa_flags (low 8 bits)  3 ifa_scope  4 ifa_index (u32)
//! IFA_ADDRESS  IFA_LOCAL  IFA_LABEL (IPv4 only)  IFA_BROADCAST  IFA_CACHEINFO  IFA_FLAGS u32
//! ```
//!
//! For IPv4, IFA_LOCAL is the interface's address and IFA_ADDRESS the
//! peer on a point-to-point link (else the same); IPv6 sends only
//! IFA_ADDRESS unless a peer is set.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use super::attr::Attr;
use super::message::{Message, Request, NLM_F_DUMP};
use super::socket::{exchange, NetlinkError};
use super::wire::{self, Malformed};

pub const NETLINK_ROUTE: libc::c_int = 0;
pub const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;

const IFADDRMSG_LEN: usize = 8;
const IFA_FAMILY: usize = 0;
const IFA_PREFIXLEN: usize = 1;
const IFA_FLAGS_BYTE: usize = 2;
const IFA_SCOPE: usize = 3;
const IFA_INDEX: Range<usize> = 4..8;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;
pub const IFA_BROADCAST: u16 = 4;
/// `struct ifa_cacheinfo { ifa_prefered, ifa_valid, cstamp, tstamp }`, u32s.
pub const IFA_CACHEINFO: u16 = 6;
const CACHEINFO_PREFERRED: Range<usize> = 0..4;
const CACHEINFO_VALID: Range<usize> = 4..8;
pub const IFA_FLAGS: u16 = 8;
pub const IFA_PROTO: u16 = 11;
/// ifa_cacheinfo's lifetime of a permanent address.
pub const INFINITY_LIFE_TIME: u32 = u32::MAX;

/// `RT_SCOPE_*` (linux/rtnetlink.h), for the tests to name the scopes.
#[cfg(test)]
const RT_SCOPE_UNIVERSE: u8 = 0;
#[cfg(test)]
const RT_SCOPE_LINK: u8 = 253;
#[cfg(test)]
const RT_SCOPE_HOST: u8 = 254;

/// One address of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddress {
    pub index: u32,
    /// IFA_LABEL: the interface name, or `name:alias`; IPv4 only.
    pub label: Option<String>,
    pub address: IpAddr,
    /// The other end of a point-to-point link.
    pub peer: Option<IpAddr>,
    pub prefix_len: u8,
    /// RT_SCOPE_*: 0 global, 253 link, 254 host.
    pub scope: u8,
    /// IFA_F_* (secondary, tentative, permanent, ...).
    pub flags: u32,
    pub broadcast: Option<Ipv4Addr>,
    /// Seconds; None for a permanent address.
    pub preferred_lifetime: Option<u32>,
    pub valid_lifetime: Option<u32>,
    /// IFA_PROTO (Linux ≥ 5.18): who added the address.
    pub proto: Option<u8>,
}

pub fn addresses_request() -> Request {
    let mut ifaddrmsg = [0u8; IFADDRMSG_LEN];
    ifaddrmsg[IFA_FAMILY] = libc::AF_UNSPEC as u8;
    Request::new(RTM_GETADDR, NLM_F_DUMP, &ifaddrmsg)
}

/// Every IPv4 and IPv6 address of the calling thread's namespace.
pub fn dump_addresses() -> Result<Vec<InterfaceAddress>, NetlinkError> {
    let mut addresses = Vec::new();
    exchange(
        "RTM_GETADDR dump",
        NETLINK_ROUTE,
        &addresses_request(),
        |m| {
            addresses.extend(parse_address(m)?);
            Ok(())
        },
    )?;
    Ok(addresses)
}

/// One RTM_NEWADDR message; None for a family other than IPv4 and IPv6.
pub fn parse_address(message: &Message<'_>) -> Result<Option<InterfaceAddress>, Malformed> {
    if message.kind != RTM_NEWADDR {
        return Err(message.malformed("not an RTM_NEWADDR message"));
    }
    let header = message
        .payload
        .get(..IFADDRMSG_LEN)
        .ok_or(message.malformed("shorter than struct ifaddrmsg"))?;
    let family = libc::c_int::from(header[IFA_FAMILY]);
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return Ok(None);
    }
    let (mut address, mut local) = (None, None);
    let mut parsed = InterfaceAddress {
        index: wire::u32_ne(header, IFA_INDEX).ok_or(message.malformed("no ifa_index"))?,
        label: None,
        address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        peer: None,
        prefix_len: header[IFA_PREFIXLEN],
        scope: header[IFA_SCOPE],
        flags: u32::from(header[IFA_FLAGS_BYTE]),
        broadcast: None,
        preferred_lifetime: None,
        valid_lifetime: None,
        proto: None,
    };
    for attr in message.attrs_after(IFADDRMSG_LEN)? {
        let attr = attr?;
        match attr.kind() {
            IFA_ADDRESS => address = Some(attr.ip()?),
            IFA_LOCAL => local = Some(attr.ip()?),
            IFA_LABEL => parsed.label = Some(attr.string()?),
            IFA_BROADCAST => parsed.broadcast = Some(attr.ipv4()?),
            IFA_CACHEINFO => {
                (parsed.preferred_lifetime, parsed.valid_lifetime) = parse_cacheinfo(&attr)?
            }
            // Replaces the 8-bit header field when present.
            IFA_FLAGS => parsed.flags = attr.ne32()?,
            IFA_PROTO => parsed.proto = Some(attr.u8()?),
            _ => {}
        }
    }
    (parsed.address, parsed.peer) = match (local, address) {
        (Some(local), Some(address)) if local != address => (local, Some(address)),
        (Some(local), _) => (local, None),
        (None, Some(address)) => (address, None),
        (None, None) => return Err(message.malformed("address message without an address")),
    };
    Ok(Some(parsed))
}

fn parse_cacheinfo(attr: &Attr<'_>) -> Result<(Option<u32>, Option<u32>), Malformed> {
    let lifetime = |field| {
        wire::u32_ne(attr.payload(), field)
            .map(|seconds| (seconds != INFINITY_LIFE_TIME).then_some(seconds))
            .ok_or(attr.malformed("IFA_CACHEINFO shorter than struct ifa_cacheinfo"))
    };
    Ok((lifetime(CACHEINFO_PREFERRED)?, lifetime(CACHEINFO_VALID)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::message::tests::message;
    use crate::netlink::message::{messages, walk_answer, DumpError, Progress, NLM_F_MULTI};

    const DUMP: [&[u8]; 2] = [
        include_bytes!("../../testdata/rtnl/addr-1.bin"),
        include_bytes!("../../testdata/rtnl/addr-2.bin"),
    ];
    const IFA_F_NODAD: u32 = 0x02;
    const IFA_F_TENTATIVE: u32 = 0x40;
    const IFA_F_PERMANENT: u32 = 0x80;

    /// Appends the addresses of one received datagram to `out`.
    fn parse_datagram(
        datagram: &[u8],
        out: &mut Vec<InterfaceAddress>,
    ) -> Result<Progress, DumpError> {
        walk_answer(datagram, |message| {
            out.extend(parse_address(message)?);
            Ok(())
        })
    }

    fn recorded() -> Vec<InterfaceAddress> {
        let mut addresses = Vec::new();
        assert!(!parse_datagram(DUMP[0], &mut addresses).unwrap().done);
        assert!(parse_datagram(DUMP[1], &mut addresses).unwrap().done);
        addresses
    }

    /// From `ip -d addr` in testdata/rtnl/README.md: every address is
    /// permanent (none says "dynamic"), the link-local ones are tentative.
    #[test]
    fn recorded_addresses_match_ip_addr() {
        let mut found: Vec<(u32, Option<String>, String, u8, u8, u32)> = recorded()
            .into_iter()
            .map(|a| {
                assert_eq!((a.peer, a.broadcast), (None, None), "{a:?}");
                assert_eq!(
                    (a.valid_lifetime, a.preferred_lifetime),
                    (None, None),
                    "{a:?}"
                );
                let flags = a.flags & (IFA_F_NODAD | IFA_F_TENTATIVE | IFA_F_PERMANENT);
                (
                    a.index,
                    a.label,
                    a.address.to_string(),
                    a.prefix_len,
                    a.scope,
                    flags,
                )
            })
            .collect();
        found.sort();
        let label = |name: &str| Some(name.to_string());
        let permanent = IFA_F_PERMANENT;
        let link_local = IFA_F_PERMANENT | IFA_F_TENTATIVE;
        let nodad = IFA_F_PERMANENT | IFA_F_NODAD;
        let (host, global, link) = (RT_SCOPE_HOST, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK);
        let mut expected = vec![
            (1, label("lo"), "127.0.0.1".into(), 8, host, permanent),
            (1, None, "::1".into(), 128, host, permanent),
            (
                2,
                label("nlbr0"),
                "198.18.1.1".into(),
                24,
                global,
                permanent,
            ),
            (2, None, "2001:2:0:1::1".into(), 64, global, nodad),
            (
                2,
                None,
                "fe80::98cd:a8ff:fe86:5392".into(),
                64,
                link,
                link_local,
            ),
            (3, label("nlr0"), "198.18.0.1".into(), 24, global, permanent),
            (3, None, "2001:2::1".into(), 64, global, nodad),
            (
                3,
                None,
                "fe80::8cec:63ff:fe5d:58c7".into(),
                64,
                link,
                link_local,
            ),
            (
                4,
                None,
                "fe80::dcf8:5aff:feda:dacb".into(),
                64,
                link,
                link_local,
            ),
            (
                5,
                None,
                "fe80::98cd:a8ff:fe86:5392".into(),
                64,
                link,
                link_local,
            ),
        ];
        expected.sort();
        assert_eq!(found, expected);
    }

    fn ifaddrmsg(family: u8, prefix_len: u8, index: u32) -> Vec<u8> {
        let mut header = vec![family, prefix_len, 0, 0];
        header.extend_from_slice(&index.to_ne_bytes());
        header
    }

    fn parse_one(payload: &[u8]) -> Result<Option<InterfaceAddress>, Malformed> {
        let datagram = message(RTM_NEWADDR, NLM_F_MULTI, payload);
        let first = messages(&datagram).next().unwrap().unwrap();
        parse_address(&first)
    }

    #[test]
    fn point_to_point_keeps_local_and_peer() {
        use crate::netlink::attr::tests::attr;
        let mut payload = ifaddrmsg(libc::AF_INET as u8, 32, 7);
        payload.extend(attr(IFA_ADDRESS, &[198, 18, 0, 9]));
        payload.extend(attr(IFA_LOCAL, &[198, 18, 0, 8]));
        payload.extend(attr(IFA_LABEL, b"tun0\0"));
        let mut cacheinfo = 100u32.to_ne_bytes().to_vec();
        cacheinfo.extend_from_slice(&200u32.to_ne_bytes());
        cacheinfo.extend_from_slice(&[0; 8]);
        payload.extend(attr(IFA_CACHEINFO, &cacheinfo));
        let parsed = parse_one(&payload).unwrap().unwrap();
        assert_eq!(parsed.address, "198.18.0.8".parse::<IpAddr>().unwrap());
        assert_eq!(parsed.peer, Some("198.18.0.9".parse().unwrap()));
        assert_eq!(parsed.label.as_deref(), Some("tun0"));
        assert_eq!(
            (parsed.preferred_lifetime, parsed.valid_lifetime),
            (Some(100), Some(200))
        );
    }

    #[test]
    fn other_families_are_skipped_and_short_headers_malformed() {
        assert_eq!(
            parse_one(&ifaddrmsg(libc::AF_PACKET as u8, 0, 1)).unwrap(),
            None
        );
        assert!(parse_one(&[2, 24, 0]).is_err());
        // An IPv4 address message without any address.
        let err = parse_one(&ifaddrmsg(libc::AF_INET as u8, 24, 1)).unwrap_err();
        assert_eq!(err.problem, "address message without an address");
    }

    #[test]
    fn request_layout() {
        let mut expected = 24u32.to_ne_bytes().to_vec();
        expected.extend_from_slice(&RTM_GETADDR.to_ne_bytes());
        expected.extend_from_slice(&0x0301u16.to_ne_bytes());
        expected.extend_from_slice(&[0; 16]);
        assert_eq!(addresses_request().bytes(), &expected[..]);
    }

    /// The lab's nat namespace through RTM_GETADDR against `ip -j addr` run
    /// inside it.
    #[test]
    fn live_addresses_match_ip_addr() {
        use crate::netlink::lab::{can_run, Lab};
        use crate::collect::netns_enter::in_netns;
        use serde_json::Value;
        if !can_run("live_addresses_match_ip_addr") {
            return;
        }
        let lab = Lab::new();
        let dumped = in_netns(lab.nat.path(), dump_addresses).unwrap().unwrap();
        let json: Value = serde_json::from_str(&lab.nat.ip(&["-j", "addr"])).unwrap();
        let scope = |name: &str| match name {
            "host" => RT_SCOPE_HOST,
            "link" => RT_SCOPE_LINK,
            "global" => RT_SCOPE_UNIVERSE,
            other => panic!("scope {other}"),
        };
        let mut listed = Vec::new();
        for link in json.as_array().unwrap() {
            for info in link["addr_info"].as_array().unwrap() {
                listed.push((
                    link["ifindex"].as_u64().unwrap() as u32,
                    info["label"].as_str().map(str::to_owned),
                    info["local"].as_str().unwrap().parse::<IpAddr>().unwrap(),
                    info["prefixlen"].as_u64().unwrap() as u8,
                    scope(info["scope"].as_str().unwrap()),
                ));
            }
        }
        let mut found: Vec<_> = dumped
            .iter()
            .map(|a| (a.index, a.label.clone(), a.address, a.prefix_len, a.scope))
            .collect();
        listed.sort();
        found.sort();
        assert_eq!(found, listed);
        // lo's two, then each of nlbr0 and nlr0 with IPv4, IPv6 and link-local.
        assert!(found.len() >= 8, "{found:#?}");
        assert!(found.contains(&(3, Some("nlr0".into()), "198.18.0.1".parse().unwrap(), 24, 0)));
    }
}
