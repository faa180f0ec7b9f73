//! RTM_GETADDR dumps: `netlink::addr::parse_address` on each data message
//! of one datagram, walked by `netlink::message::walk_answer` as
//! `dump_addresses` walks them.
//!
//! Input: one datagram.
//!
//! Asserts: no panic; a `Malformed` points into the message it is about
//! (or, for a bad header, at a byte of the datagram); a peer is never the
//! address itself; the addresses read, encoded again as the kernel's
//! inet_fill_ifaddr and inet6_fill_ifaddr write them and followed by
//! `NLMSG_DONE`, read back the same, and the walk ends done.
#![no_main]

use std::net::IpAddr;

use cnetstat::netlink::addr::{parse_address, InterfaceAddress};
use cnetstat::netlink::addr::{
    IFA_ADDRESS, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, IFA_PROTO,
    INFINITY_LIFE_TIME, RTM_NEWADDR,
};
use cnetstat_fuzz::netlink::{done, message, walk, Attrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut addresses = Vec::new();
    // A kernel error ends the walk too; the addresses before it stand.
    let _ = walk(data, |m| {
        addresses.extend(parse_address(m)?);
        Ok(())
    });
    for address in &addresses {
        assert_ne!(address.peer, Some(address.address));
    }

    let Some(messages) = addresses.iter().map(encode).collect::<Option<Vec<_>>>() else {
        return; // A label gained its NUL past an attribute's 64 KiB.
    };
    let mut datagram = messages.concat();
    datagram.extend_from_slice(&done());
    let mut again = Vec::new();
    let progress = walk(&datagram, |m| {
        again.extend(parse_address(m)?);
        Ok(())
    })
    .unwrap();
    assert!(progress.done);
    assert_eq!(again, addresses);
});

fn encode(a: &InterfaceAddress) -> Option<Vec<u8>> {
    let family = match a.address {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    // struct ifaddrmsg: family, prefix length, the flags' low 8 bits,
    // scope, interface index.
    let mut ifaddrmsg = vec![family as u8, a.prefix_len, a.flags as u8, a.scope];
    ifaddrmsg.extend_from_slice(&a.index.to_ne_bytes());

    let mut attrs = Attrs::default();
    let octets = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    // IFA_LOCAL is the address and IFA_ADDRESS the peer (else the address
    // again); IPv6 sends IFA_LOCAL only when there is a peer.
    match (a.address, a.peer) {
        (IpAddr::V6(_), None) => {
            attrs.add(IFA_ADDRESS, &octets(a.address));
        }
        (_, peer) => {
            attrs
                .add(IFA_LOCAL, &octets(a.address))
                .add(IFA_ADDRESS, &octets(peer.unwrap_or(a.address)));
        }
    }
    if let Some(label) = &a.label {
        attrs.add_string(IFA_LABEL, label);
    }
    if let Some(broadcast) = a.broadcast {
        attrs.add(IFA_BROADCAST, &broadcast.octets());
    }
    if a.preferred_lifetime.is_some() || a.valid_lifetime.is_some() {
        // struct ifa_cacheinfo: preferred, valid, created, updated.
        let mut cacheinfo = Vec::new();
        for lifetime in [a.preferred_lifetime, a.valid_lifetime] {
            cacheinfo.extend_from_slice(&lifetime.unwrap_or(INFINITY_LIFE_TIME).to_ne_bytes());
        }
        cacheinfo.extend_from_slice(&[0; 8]);
        attrs.add(IFA_CACHEINFO, &cacheinfo);
    }
    attrs.add(IFA_FLAGS, &a.flags.to_ne_bytes());
    if let Some(proto) = a.proto {
        attrs.add(IFA_PROTO, &[proto]);
    }
    message(RTM_NEWADDR, &ifaddrmsg, attrs)
}
