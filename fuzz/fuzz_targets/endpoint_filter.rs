//! `--local` and `--remote` values: `analyze::filter::EndpointFilter`'s
//! and `RemoteFilter`'s `FromStr`, and `matches` on what they give.
//!
//! Asserts: no panic; an error quotes the text; what the standard library
//! reads as an address, a socket address, `ADDR/LEN` or `:PORT` is
//! accepted and matches that address and port (and an IPv4 address its
//! v4-mapped IPv6 form, and back), a socket address no other port, an
//! IPv4 `/0` every IPv4 address; an address matches as its v4-mapped form
//! does. `--remote`: text without a `svc/`, `service/`, `pod/` or `node/`
//! prefix reads exactly as an endpoint; with one, it is accepted exactly
//! when it is `PREFIX/NAMESPACE/NAME` (`node/NAME`) with parts that are
//! not empty and hold no `/`, and then matches the remote end of that
//! kind, namespace and name whatever its address, and no other; spelled
//! back with the short prefix it reads the same.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use cnetstat::analyze::filter::{EndpointFilter, RemoteFilter};
use cnetstat::analyze::remote::{RemoteKind, RemoteName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_remote(&text);
    let parsed = text.parse::<EndpointFilter>();
    let filter = match &parsed {
        Ok(filter) => filter,
        Err(error) => {
            assert!(
                error.to_string().starts_with(&format!("'{text}': ")),
                "{error}"
            );
            return check_rejected(&text);
        }
    };
    // Whatever was accepted, matching any address and port is defined.
    let mut probe = [0u8; 18];
    let n = data.len().min(18);
    probe[..n].copy_from_slice(&data[..n]);
    let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(&probe[..16]).unwrap());
    let v4 = Ipv4Addr::from(<[u8; 4]>::try_from(&probe[12..16]).unwrap());
    let port = u16::from_le_bytes([probe[16], probe[17]]);
    for address in [IpAddr::V6(v6), IpAddr::V4(v4)] {
        let _ = filter.matches(address, port);
        assert_eq!(
            filter.matches(address, port),
            filter.matches(mapped(address), port)
        );
    }

    if text.contains('%') {
        return; // Scope ids, which std reads and cnetstat does not take.
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        for port in [0, 1, 80, 65535] {
            assert!(
                filter.matches(ip, port) && filter.matches(mapped(ip), port),
                "{text}"
            );
        }
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        assert!(filter.matches(address.ip(), address.port()), "{text}");
        assert!(
            !filter.matches(address.ip(), address.port().wrapping_add(1)),
            "{text}"
        );
    }
    if let Some(port) = text.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()) {
        assert!(
            filter.matches(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            "{text}"
        );
        assert!(
            filter.matches(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            "{text}"
        );
        assert!(!filter.matches(IpAddr::V6(Ipv6Addr::LOCALHOST), port.wrapping_add(1)));
    }
    if let Some((ip, len)) = address_and_length(&text) {
        // A v4-mapped address under a prefix shorter than /96 stays an IPv6
        // prefix, which no address matches in its v4-mapped form: `matches`
        // compares such addresses as IPv4 (see fuzz/README.md, "Left as is").
        let mapped_under_96 = ip.to_canonical().is_ipv4() && ip.is_ipv6() && len < 96;
        assert!(mapped_under_96 || filter.matches(ip, 443), "{text}");
        if len == 0 && ip.is_ipv4() {
            let other = IpAddr::V4(!v4);
            assert!(
                filter.matches(other, 1) && filter.matches(mapped(other), 1),
                "{text}"
            );
        }
    }
});

/// `--remote`'s names, and its addresses read as `EndpointFilter` reads them.
fn check_remote(text: &str) {
    let parsed = text.parse::<RemoteFilter>();
    let kind = text.split_once('/').and_then(|(prefix, _)| match prefix {
        "svc" | "service" => Some(RemoteKind::Service),
        "pod" => Some(RemoteKind::Pod),
        "node" => Some(RemoteKind::Node),
        _ => None,
    });
    let Some(kind) = kind else {
        assert_eq!(
            parsed,
            text.parse::<EndpointFilter>().map(RemoteFilter::Endpoint)
        );
        return;
    };
    let rest = text.split_once('/').map_or("", |(_, rest)| rest);
    let part = |part: &str| !part.is_empty() && !part.contains('/');
    let named = match kind {
        RemoteKind::Node => part(rest).then_some((None, rest)),
        _ => rest
            .split_once('/')
            .filter(|(namespace, name)| part(namespace) && part(name))
            .map(|(namespace, name)| (Some(namespace), name)),
    };
    let filter = match (named, parsed) {
        (Some(_), Ok(filter)) => filter,
        (None, Err(error)) => {
            assert!(
                error.to_string().starts_with(&format!("'{text}': ")),
                "{error}"
            );
            return;
        }
        (named, parsed) => panic!("{text:?}: parts {named:?}, but read as {parsed:?}"),
    };
    let (namespace, name) = named.expect("accepted above");
    assert_eq!(
        filter,
        RemoteFilter::Named {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    );
    let spelled = match namespace {
        Some(namespace) => format!("{}/{namespace}/{name}", kind.short()),
        None => format!("{}/{name}", kind.short()),
    };
    assert_eq!(spelled.parse::<RemoteFilter>(), Ok(filter.clone()));

    // A name matches by what the remote end is, whatever its address.
    let ends = [
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), 443),
    ];
    let remote = RemoteName {
        kind,
        namespace,
        name: Some(name),
    };
    let other_namespace = format!("{}-other", namespace.unwrap_or("default"));
    let other_name = format!("{name}-other");
    let others = [
        RemoteName {
            kind: match kind {
                RemoteKind::Pod => RemoteKind::Service,
                _ => RemoteKind::Pod,
            },
            ..remote
        },
        RemoteName {
            namespace: Some(&other_namespace),
            ..remote
        },
        RemoteName {
            name: Some(&other_name),
            ..remote
        },
        RemoteName {
            name: None,
            ..remote
        },
    ];
    for (address, port) in ends {
        assert!(filter.matches(address, port, Some(remote)));
        assert!(!filter.matches(address, port, None));
        for other in others {
            assert!(!filter.matches(address, port, Some(other)), "{other:?}");
        }
    }
}

/// What must not have been refused.
fn check_rejected(text: &str) {
    if text.contains('%') {
        return;
    }
    assert!(text.parse::<IpAddr>().is_err(), "refused address {text:?}");
    assert!(
        text.parse::<SocketAddr>().is_err(),
        "refused socket address {text:?}"
    );
    assert!(
        address_and_length(text).is_none(),
        "refused prefix {text:?}"
    );
    assert!(
        text.strip_prefix(':')
            .and_then(|p| p.parse::<u16>().ok())
            .is_none(),
        "refused port {text:?}"
    );
}

/// `ADDR/LEN` with a length that fits the address, as std reads them.
fn address_and_length(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// An IPv4 address as v4-mapped IPv6, and a v4-mapped one as IPv4.
fn mapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
    }
}
