//! The client-certificate check on keys and certificates openssl makes
//! (test_pki), and proof that each pair it refuses is one that would make
//! ureq panic, so the check refuses no more than it must.

use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use ureq::Agent;

use super::super::test_pki::{read, ACCEPTED_CLIENT_PAIRS};
use super::*;

fn check(cert: &str, key: &str) -> Result<ClientCert, IdentityProblem> {
    client_cert(&read(cert), &read(key))
}

#[test]
fn keys_rustls_takes_are_accepted() {
    for (cert, key) in ACCEPTED_CLIENT_PAIRS {
        check(cert, key).unwrap_or_else(|problem| panic!("{cert} + {key}: {problem}"));
    }
}

fn refused() -> Vec<(&'static str, &'static str, IdentityProblem)> {
    let unsupported = |what: &str| IdentityProblem::UnsupportedKey(what.into());
    vec![
        ("client.pem", "kubelet.key", IdentityProblem::KeyMismatch),
        ("kubelet.pem", "client.key", IdentityProblem::KeyMismatch),
        ("p384.pem", "kubelet.key", IdentityProblem::KeyMismatch),
        (
            "client-v1.pem",
            "client.key",
            IdentityProblem::CertificateVersion,
        ),
        (
            "kubelet-critical.pem",
            "kubelet.key",
            IdentityProblem::UnsupportedCriticalExtension,
        ),
        (
            "rsa1024.pem",
            "rsa1024.key",
            unsupported("an RSA key of 1024 bits (rustls takes 2048 to 4096)"),
        ),
        (
            "p521.pem",
            "p521.key",
            unsupported(
                "on an elliptic curve other than P-256 and P-384, which rustls does not take",
            ),
        ),
        (
            "kubelet.pem",
            "kubelet-no-public.key",
            unsupported("an EC key without its public key, which ring needs"),
        ),
    ]
}

#[test]
fn pairs_rustls_would_refuse_are_errors() {
    for (cert, key, expected) in refused() {
        assert_eq!(check(cert, key).err(), Some(expected), "{cert} + {key}");
    }
    assert_eq!(
        check("ed25519.pem", "ed25519.key").err(),
        Some(IdentityProblem::UnsupportedKey(
            "an Ed25519 key, which cnetstat cannot match to its certificate".into()
        ))
    );
}

/// What the check is for: without it, ureq would panic on each refused
/// pair as it connects (the key is only looked at then). Once a ureq
/// release returns an error instead, this fails, and the check can go.
#[test]
fn each_refused_pair_would_make_ureq_panic() {
    // The kernel completes TCP handshakes for a listener nobody accepts on,
    // which is as far as ureq gets before building its TLS configuration.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    for (cert, key, _) in refused() {
        let chain: Vec<Certificate<'static>> = certificates(&read(cert), "test").unwrap();
        let key_pem = read(key);
        let private_key = PrivateKey::from_pem(&key_pem).unwrap().to_owned();
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(
                &certificates(&read("ca.pem"), "test").unwrap(),
            ))
            .client_cert(Some(ClientCert::new_with_certs(&chain, private_key)))
            .build();
        let agent: Agent = Agent::config_builder()
            .tls_config(tls)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let outcome = catch_unwind(AssertUnwindSafe(|| agent.get(&url).call()));
        assert!(
            outcome.is_err(),
            "{cert} + {key}: ureq did not panic: {outcome:?}"
        );
    }
}

#[test]
fn ca_bundles_without_a_certificate_are_refused() {
    assert_eq!(
        tls_config(b"", &KubeAuth::None).err(),
        Some(IdentityProblem::NoCaCertificate)
    );
    assert_eq!(
        tls_config(&read("kubelet.key"), &KubeAuth::None).err(),
        Some(IdentityProblem::NoCaCertificate)
    );
    let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        tls_config(broken, &KubeAuth::None),
        Err(IdentityProblem::Pem {
            what: "CA bundle",
            ..
        })
    ));
    assert!(tls_config(&read("ca.pem"), &KubeAuth::None).is_ok());
}

#[test]
fn files_missing_their_half_are_refused() {
    assert_eq!(
        check("client.key", "client.key").err(),
        Some(IdentityProblem::NoClientCertificate)
    );
    assert_eq!(
        check("client.pem", "client.pem").err(),
        Some(IdentityProblem::NoClientKey)
    );
}

#[test]
fn der_lengths_must_be_definite_and_minimal() {
    let element = |bytes: &'static [u8]| {
        let mut input = bytes;
        take(&mut input).map(|tlv| (tlv.tag, tlv.value.len(), input.len()))
    };
    assert_eq!(element(&[0x04, 0x02, 1, 2, 9]), Some((0x04, 2, 1)));
    let long = [&[0x04, 0x81, 0x80][..], &[0; 0x80]].concat().leak();
    assert_eq!(element(long), Some((0x04, 0x80, 0)));
    assert_eq!(
        element(&[0x04, 0x81, 0x02, 1, 2]),
        None,
        "long form for a short length"
    );
    assert_eq!(
        element(&[0x04, 0x82, 0x00, 0x80]),
        None,
        "leading zero in the length"
    );
    assert_eq!(element(&[0x30, 0x80, 0, 0]), None, "indefinite length");
    assert_eq!(
        element(&[0x04, 0x03, 1, 2]),
        None,
        "shorter than its length"
    );
    assert_eq!(element(&[0x1F, 0x01, 0x00]), None, "multi-byte tag");
    assert_eq!(encode(0x04, &[&[7; 300]])[..4], [0x04, 0x82, 0x01, 0x2C]);
}
