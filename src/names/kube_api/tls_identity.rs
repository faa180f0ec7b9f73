//! The cluster CA and the client certificate, as ureq's rustls takes them.
//!
//! ureq builds its rustls configuration on the first connection and
//! `expect`s the client certificate and key to be usable ("valid client
//! auth certificate", algesten/ureq#1077), and release builds abort on
//! panic: a kubeconfig whose key does not belong to its certificate would
//! kill cnetstat. So the pair is checked here first, against what rustls
//! 0.23 (`CertifiedKey::from_der`) and ring 0.17 require of it, and a bad
//! pair is an error naming its source instead:
//! - the end-entity certificate parses as webpki parses it: X.509 v3, the
//!   same signature algorithm inside and out, no unknown critical
//!   extension, no extension webpki reads given twice or malformed;
//! - the key is RSA of 2048 to 4096 bits with an odd exponent from 65537
//!   to 2^33-1, or ECDSA on P-256 or P-384 carrying its uncompressed
//!   public point (ring needs it; kubelet and openssl keys carry it);
//! - the public key derived from it is, byte for byte, the certificate's.
//!
//! One case no parser can catch without the private arithmetic ring does:
//! a key whose secret parts were corrupted while its public parts still
//! match the certificate would still reach ureq's panic. Ed25519 keys are
//! refused: openssl writes them without their public half, so they cannot
//! be matched to the certificate here.

use std::fmt;

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use super::KubeAuth;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityProblem {
    NoCaCertificate,
    NoClientCertificate,
    NoClientKey,
    Pem { what: &'static str, error: String },
    MalformedCertificate(&'static str),
    CertificateVersion,
    UnsupportedCriticalExtension,
    MalformedKey(&'static str),
    UnsupportedKey(String),
    KeyMismatch,
}

impl fmt::Display for IdentityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityProblem::NoCaCertificate => {
                f.write_str("the CA bundle holds no PEM certificate")
            }
            IdentityProblem::NoClientCertificate => {
                f.write_str("the client certificate file holds no PEM certificate")
            }
            IdentityProblem::NoClientKey => {
                f.write_str("the client key file holds no PEM private key")
            }
            IdentityProblem::Pem { what, error } => {
                write!(f, "the {what} is not valid PEM: {error}")
            }
            IdentityProblem::MalformedCertificate(part) => {
                write!(f, "the client certificate is malformed ({part})")
            }
            IdentityProblem::CertificateVersion => f.write_str(
                "the client certificate is not X.509 version 3, the only one rustls takes",
            ),
            IdentityProblem::UnsupportedCriticalExtension => {
                f.write_str("the client certificate has a critical extension rustls does not know")
            }
            IdentityProblem::MalformedKey(part) => {
                write!(f, "the client key is malformed ({part})")
            }
            IdentityProblem::UnsupportedKey(what) => write!(f, "the client key is {what}"),
            IdentityProblem::KeyMismatch => {
                f.write_str("the client key does not belong to the client certificate")
            }
        }
    }
}

/// A TLS configuration trusting only `ca_pem`'s certificates and, for
/// client-certificate auth, presenting the checked certificate and key.
pub fn tls_config(ca_pem: &[u8], auth: &KubeAuth) -> Result<TlsConfig, IdentityProblem> {
    let roots = certificates(ca_pem, "CA bundle")?;
    if roots.is_empty() {
        return Err(IdentityProblem::NoCaCertificate);
    }
    let client_cert = match auth {
        KubeAuth::ClientCert { cert_pem, key_pem } => Some(client_cert(cert_pem, key_pem)?),
        KubeAuth::Token(_) | KubeAuth::None => None,
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&roots))
        .client_cert(client_cert)
        .build())
}

fn certificates(
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<Certificate<'static>>, IdentityProblem> {
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(certificate)) => certificates.push(certificate),
            Ok(_) => {}
            Err(error) => {
                return Err(IdentityProblem::Pem {
                    what,
                    error: error.to_string(),
                })
            }
        }
    }
    Ok(certificates)
}

fn client_cert(cert_pem: &[u8], key_pem: &[u8]) -> Result<ClientCert, IdentityProblem> {
    let chain = certificates(cert_pem, "client certificate")?;
    let end_entity = chain.first().ok_or(IdentityProblem::NoClientCertificate)?;
    let mut key = None;
    for item in ureq::tls::parse_pem(key_pem) {
        match item {
            Ok(PemItem::PrivateKey(found)) => {
                key = Some(found);
                break;
            }
            Ok(_) => {}
            Err(error) => {
                return Err(IdentityProblem::Pem {
                    what: "client key",
                    error: error.to_string(),
                })
            }
        }
    }
    let key = key.ok_or(IdentityProblem::NoClientKey)?;
    let certified = subject_public_key_info(end_entity.der())?;
    if public_key_info_of(&key)? != certified {
        return Err(IdentityProblem::KeyMismatch);
    }
    Ok(ClientCert::new_with_certs(&chain, key))
}

const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const SEQUENCE: u8 = 0x30;
const EXPLICIT_0: u8 = 0xA0;
const EXPLICIT_1: u8 = 0xA1;
const EXPLICIT_3: u8 = 0xA3;

const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
const ED25519: &[u8] = &[0x2B, 0x65, 0x70];
/// Certificate Transparency's SCT list, which webpki reads.
const SCT_LIST: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xD6, 0x79, 0x02, 0x04, 0x02];
/// id-ce (2.5.29) extensions webpki reads: key usage, subject alt name,
/// basic constraints, name constraints, CRL distribution points, EKU.
const ID_CE: &[u8] = &[0x55, 0x1D];
const ID_CE_READ: [u8; 6] = [15, 17, 19, 30, 31, 37];
const ID_CE_KEY_USAGE: u8 = 15;

/// One DER element: its tag, its value, and all of its bytes.
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
    encoded: &'a [u8],
}

/// Takes one DER element off the front of `input`: single-byte tag,
/// definite length in its shortest form.
fn take<'a>(input: &mut &'a [u8]) -> Option<Tlv<'a>> {
    let all: &'a [u8] = input;
    let (&tag, rest) = all.split_first()?;
    if tag & 0x1F == 0x1F {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7F);
        // 0 is BER's indefinite length; 3 bytes already allow 16 MiB.
        if count == 0 || count > 3 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        if bytes[0] == 0 {
            return None;
        }
        let length = bytes.iter().fold(0, |acc, &b| acc << 8 | usize::from(b));
        if length < 0x80 {
            return None;
        }
        rest = after;
        length
    };
    let header = all.len() - rest.len();
    let (value, after) = rest.split_at_checked(length)?;
    *input = after;
    Some(Tlv {
        tag,
        value,
        encoded: &all[..header + length],
    })
}

fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Option<Tlv<'a>> {
    if input.first() != Some(&tag) {
        return None;
    }
    take(input)
}

/// `bytes` as exactly one element tagged `tag`.
fn only<'a>(mut bytes: &'a [u8], tag: u8) -> Option<Tlv<'a>> {
    expect(&mut bytes, tag).filter(|_| bytes.is_empty())
}

fn encode(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let length: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = vec![tag];
    let significant: Vec<u8> = length
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(&significant);
    }
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// The SubjectPublicKeyInfo of the certificate `der`, read as webpki reads
/// an end-entity certificate.
fn subject_public_key_info(der: &[u8]) -> Result<Vec<u8>, IdentityProblem> {
    use IdentityProblem::MalformedCertificate as Malformed;
    let certificate = only(der, SEQUENCE).ok_or(Malformed("not one DER certificate"))?;
    let mut parts = certificate.value;
    let tbs = expect(&mut parts, SEQUENCE).ok_or(Malformed("tbsCertificate"))?;
    if tbs.value.len() > 0xFFFF {
        return Err(Malformed("tbsCertificate longer than 64 KiB"));
    }
    let outer_algorithm = expect(&mut parts, SEQUENCE).ok_or(Malformed("signatureAlgorithm"))?;
    expect(&mut parts, BIT_STRING)
        .filter(|signature| signature.value.first() == Some(&0))
        .ok_or(Malformed("signature"))?;
    if !parts.is_empty() {
        return Err(Malformed("data after the signature"));
    }
    let mut fields = tbs.value;
    let version = expect(&mut fields, EXPLICIT_0).ok_or(IdentityProblem::CertificateVersion)?;
    if version.value != [INTEGER, 1, 2] {
        return Err(IdentityProblem::CertificateVersion);
    }
    expect(&mut fields, INTEGER).ok_or(Malformed("serialNumber"))?;
    let algorithm = expect(&mut fields, SEQUENCE).ok_or(Malformed("signature"))?;
    if algorithm.encoded != outer_algorithm.encoded {
        return Err(Malformed("its two signature algorithms differ"));
    }
    for part in ["issuer", "validity", "subject"] {
        expect(&mut fields, SEQUENCE).ok_or(Malformed(part))?;
    }
    let spki = expect(&mut fields, SEQUENCE).ok_or(Malformed("subjectPublicKeyInfo"))?;
    if !fields.is_empty() {
        let extensions = only(fields, EXPLICIT_3).ok_or(Malformed(
            "unique identifiers, or data after the extensions",
        ))?;
        check_extensions(extensions.value)?;
    }
    Ok(spki.encoded.to_vec())
}

fn check_extensions(tagged: &[u8]) -> Result<(), IdentityProblem> {
    use IdentityProblem::MalformedCertificate as Malformed;
    let list = only(tagged, SEQUENCE).ok_or(Malformed("extensions"))?;
    let mut items = list.value;
    let mut read: Vec<&[u8]> = Vec::new();
    while !items.is_empty() {
        let extension = expect(&mut items, SEQUENCE).ok_or(Malformed("an extension"))?;
        let mut fields = extension.value;
        let id = expect(&mut fields, OID)
            .ok_or(Malformed("an extension's id"))?
            .value;
        let critical = match expect(&mut fields, BOOLEAN) {
            None => false,
            Some(flag) if flag.value == [0xFF] => true,
            Some(flag) if flag.value == [0x00] => false,
            Some(_) => return Err(Malformed("an extension's critical flag")),
        };
        let value = only(fields, OCTET_STRING)
            .ok_or(Malformed("an extension's value"))?
            .value;
        let id_ce = id
            .strip_prefix(ID_CE)
            .filter(|rest| rest.len() == 1)
            .map(|rest| rest[0]);
        let expected = match id_ce {
            Some(ID_CE_KEY_USAGE) => None,
            Some(number) if ID_CE_READ.contains(&number) => Some(SEQUENCE),
            _ if id == SCT_LIST => Some(OCTET_STRING),
            _ if critical => return Err(IdentityProblem::UnsupportedCriticalExtension),
            _ => continue,
        };
        if read.contains(&id) {
            return Err(Malformed("an extension appears twice"));
        }
        read.push(id);
        if let Some(tag) = expected {
            only(value, tag).ok_or(Malformed("an extension's value"))?;
        }
    }
    Ok(())
}

/// The SubjectPublicKeyInfo rustls derives from `key` to compare with the
/// certificate's, once the key passes ring's requirements.
fn public_key_info_of(key: &PrivateKey) -> Result<Vec<u8>, IdentityProblem> {
    // rustls reads the key as its PEM label says, which ureq records as a
    // `KeyKind`; ureq 3.5 does not export that type, so it is told apart
    // by its Debug name.
    match format!("{:?}", key.kind()).as_str() {
        "Pkcs1" => rsa_public_key_info(key.der()),
        "Sec1" => ec_public_key_info(key.der(), None),
        "Pkcs8" => pkcs8_public_key_info(key.der()),
        _ => Err(IdentityProblem::UnsupportedKey(
            "in an encoding cnetstat does not know".into(),
        )),
    }
}

/// PKCS#8 as ring takes it for RSA and ECDSA: version 0, the exact
/// algorithm identifier, optional attributes, nothing else.
fn pkcs8_public_key_info(der: &[u8]) -> Result<Vec<u8>, IdentityProblem> {
    use IdentityProblem::MalformedKey as Malformed;
    let info = only(der, SEQUENCE).ok_or(Malformed("not one DER PKCS#8 key"))?;
    let mut fields = info.value;
    let version = expect(&mut fields, INTEGER).ok_or(Malformed("version"))?;
    let algorithm = expect(&mut fields, SEQUENCE).ok_or(Malformed("algorithm"))?;
    let private_key = expect(&mut fields, OCTET_STRING).ok_or(Malformed("privateKey"))?;
    if fields.first() == Some(&EXPLICIT_0) {
        take(&mut fields).ok_or(Malformed("attributes"))?;
    }
    let mut parameters = algorithm.value;
    let oid = expect(&mut parameters, OID)
        .ok_or(Malformed("algorithm"))?
        .value;
    if oid == ED25519 {
        return Err(IdentityProblem::UnsupportedKey(
            "an Ed25519 key, which cnetstat cannot match to its certificate".into(),
        ));
    }
    if version.value != [0] || !fields.is_empty() {
        return Err(IdentityProblem::UnsupportedKey(
            "a PKCS#8 version 2 key, which ring takes only for Ed25519".into(),
        ));
    }
    if oid == RSA_ENCRYPTION {
        if parameters != [NULL, 0] {
            return Err(Malformed("RSA algorithm parameters"));
        }
        return rsa_public_key_info(private_key.value);
    }
    if oid == EC_PUBLIC_KEY {
        let curve = only(parameters, OID).ok_or(Malformed("EC curve"))?;
        return ec_public_key_info(private_key.value, Some(curve.value));
    }
    Err(IdentityProblem::UnsupportedKey(
        "of an algorithm other than RSA and ECDSA".into(),
    ))
}

/// PKCS#1 RSAPrivateKey, two primes.
fn rsa_public_key_info(der: &[u8]) -> Result<Vec<u8>, IdentityProblem> {
    use IdentityProblem::MalformedKey as Malformed;
    let key = only(der, SEQUENCE).ok_or(Malformed("not one DER RSA key"))?;
    let mut fields = key.value;
    let version = expect(&mut fields, INTEGER).ok_or(Malformed("version"))?;
    if version.value != [0] {
        return Err(IdentityProblem::UnsupportedKey(
            "a multi-prime RSA key".into(),
        ));
    }
    let modulus = expect(&mut fields, INTEGER).ok_or(Malformed("modulus"))?;
    let exponent = expect(&mut fields, INTEGER).ok_or(Malformed("publicExponent"))?;
    for part in [
        "privateExponent",
        "prime1",
        "prime2",
        "exponent1",
        "exponent2",
        "coefficient",
    ] {
        expect(&mut fields, INTEGER).ok_or(Malformed(part))?;
    }
    if !fields.is_empty() {
        return Err(Malformed("data after the coefficient"));
    }
    let n = positive_integer(modulus.value).ok_or(Malformed("modulus"))?;
    let e = positive_integer(exponent.value).ok_or(Malformed("publicExponent"))?;
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    if !(2048..=4096).contains(&bits) {
        return Err(IdentityProblem::UnsupportedKey(format!(
            "an RSA key of {bits} bits (rustls takes 2048 to 4096)"
        )));
    }
    let e_value = (e.len() <= 5).then(|| e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)));
    if !e_value.is_some_and(|e| (65537..(1 << 33)).contains(&e) && e % 2 == 1) {
        return Err(IdentityProblem::UnsupportedKey(
            "an RSA key whose public exponent ring refuses".into(),
        ));
    }
    let algorithm = encode(SEQUENCE, &[&encode(OID, &[RSA_ENCRYPTION]), &[NULL, 0]]);
    let public_key = encode(SEQUENCE, &[modulus.encoded, exponent.encoded]);
    Ok(encode(
        SEQUENCE,
        &[&algorithm, &encode(BIT_STRING, &[&[0], &public_key])],
    ))
}

/// A DER INTEGER's magnitude, if it is positive and minimally encoded (ring
/// refuses anything else).
fn positive_integer(value: &[u8]) -> Option<&[u8]> {
    match value {
        [] => None,
        [0] => None,
        [0, next, ..] if *next < 0x80 => None,
        [0, rest @ ..] => Some(rest),
        [first, ..] if *first >= 0x80 => None,
        _ => Some(value),
    }
}

/// SEC1 ECPrivateKey, on `pkcs8_curve` when it came in PKCS#8.
fn ec_public_key_info(der: &[u8], pkcs8_curve: Option<&[u8]>) -> Result<Vec<u8>, IdentityProblem> {
    use IdentityProblem::MalformedKey as Malformed;
    let key = only(der, SEQUENCE).ok_or(Malformed("not one DER EC key"))?;
    let mut fields = key.value;
    let version = expect(&mut fields, INTEGER).ok_or(Malformed("version"))?;
    if version.value != [1] {
        return Err(Malformed("version"));
    }
    let private_key = expect(&mut fields, OCTET_STRING).ok_or(Malformed("privateKey"))?;
    let named_curve = match expect(&mut fields, EXPLICIT_0) {
        Some(parameters) => Some(
            only(parameters.value, OID)
                .ok_or(Malformed("parameters"))?
                .value,
        ),
        None => None,
    };
    let point = match expect(&mut fields, EXPLICIT_1) {
        Some(public_key) => {
            let bits = only(public_key.value, BIT_STRING).ok_or(Malformed("publicKey"))?;
            Some(
                bits.value
                    .strip_prefix(&[0])
                    .ok_or(Malformed("publicKey"))?,
            )
        }
        None => None,
    };
    if !fields.is_empty() {
        return Err(Malformed("data after the publicKey"));
    }
    // rustls tries P-256 then P-384 on a SEC1 key without parameters, and
    // ring takes the one whose scalar size fits.
    let curve = match (pkcs8_curve, named_curve) {
        (Some(outer), Some(inner)) if outer != inner => {
            return Err(Malformed("two different curves"))
        }
        (Some(curve), _) | (None, Some(curve)) => curve,
        (None, None) if private_key.value.len() == 32 => P256,
        (None, None) if private_key.value.len() == 48 => P384,
        (None, None) => return Err(Malformed("privateKey size fits no curve")),
    };
    let scalar_len = match curve {
        P256 => 32,
        P384 => 48,
        _ => {
            return Err(IdentityProblem::UnsupportedKey(
                "on an elliptic curve other than P-256 and P-384, which rustls does not take"
                    .into(),
            ))
        }
    };
    if private_key.value.len() != scalar_len {
        return Err(Malformed("privateKey size does not fit its curve"));
    }
    let point = point.ok_or_else(|| {
        IdentityProblem::UnsupportedKey("an EC key without its public key, which ring needs".into())
    })?;
    if point.len() != 1 + 2 * scalar_len || point[0] != 0x04 {
        return Err(IdentityProblem::UnsupportedKey(
            "an EC key whose public point is not uncompressed, which ring needs".into(),
        ));
    }
    let algorithm = encode(
        SEQUENCE,
        &[&encode(OID, &[EC_PUBLIC_KEY]), &encode(OID, &[curve])],
    );
    Ok(encode(
        SEQUENCE,
        &[&algorithm, &encode(BIT_STRING, &[&[0], point])],
    ))
}

#[cfg(test)]
mod tests;
