//! Certificates and keys for the tests, made with `openssl` once per test
//! process into a temporary directory: a CA, a server certificate for
//! 127.0.0.1 and localhost, client certificates, and keys rustls refuses.
//! Made at test time so no private key is committed and none expires.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Set by a test that reruns the test binary, so the child uses the
/// parent's files instead of making its own.
pub const PKI_DIR_VAR: &str = "CNETSTAT_KUBE_TEST_PKI";

pub const CLIENT_NAME: &str = "cnetstat-test-client";
pub const KUBELET_NAME: &str = "system:node:node-a";

/// Certificate and key files of every form rustls takes: RSA in PKCS#8 and
/// PKCS#1, P-256 in SEC1 (alone, and in one file with its certificate as
/// the kubelet writes it) and PKCS#8, and P-384.
pub const ACCEPTED_CLIENT_PAIRS: [(&str, &str); 6] = [
    ("client.pem", "client.key"),
    ("client.pem", "client-pkcs1.key"),
    ("kubelet-client-current.pem", "kubelet-client-current.pem"),
    ("kubelet.pem", "kubelet.key"),
    ("kubelet.pem", "kubelet-pkcs8.key"),
    ("p384.pem", "p384.key"),
];

pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os(PKI_DIR_VAR) {
            return PathBuf::from(dir);
        }
        remove_left_behind();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        make(&dir);
        dir
    })
}

const DIR_PREFIX: &str = "cnetstat-kube-pki-";

/// A test process cannot clean up after itself at exit, so each removes
/// the directories of those that have exited.
fn remove_left_behind() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub fn read(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run openssl ({err}): the Kubernetes API tests make their test CA with it; \
             install it (apt-get install openssl)"
            )
        });
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn ec_key(dir: &Path, name: &str, curve: &str) {
    openssl(
        dir,
        &["ecparam", "-name", curve, "-genkey", "-noout", "-out", name],
    );
}

fn rsa_key(dir: &Path, name: &str, bits: u32) {
    let bits = format!("rsa_keygen_bits:{bits}");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits,
            "-out",
            name,
        ],
    );
}

fn self_signed_ca(dir: &Path, key: &str, cert: &str, name: &str) {
    let subject = format!("/CN={name}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-sha256",
            "-days",
            "36500",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            cert,
        ],
    );
}

/// Signs `key`'s certificate for `subject` with the CA `ca`; `extensions`
/// (an openssl extension file body) empty makes an X.509 v1 certificate.
fn signed(dir: &Path, key: &str, cert: &str, subject: &str, ca: &str, extensions: &str) {
    let csr = format!("{cert}.csr");
    openssl(
        dir,
        &["req", "-new", "-key", key, "-subj", subject, "-out", &csr],
    );
    let (ca_cert, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_cert,
        "-CAkey",
        &ca_key,
        "-set_serial",
        "7",
        "-days",
        "36500",
        "-sha256",
        "-out",
        cert,
    ];
    let extfile = format!("{cert}.ext");
    if !extensions.is_empty() {
        std::fs::write(dir.join(&extfile), extensions).unwrap();
        args.extend(["-extfile", &extfile]);
    }
    openssl(dir, &args);
}

const SERVER: &str = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
const CLIENT: &str = "extendedKeyUsage=clientAuth\n";

fn make(dir: &Path) {
    ec_key(dir, "ca.key", "prime256v1");
    self_signed_ca(dir, "ca.key", "ca.pem", "cnetstat-test-ca");
    ec_key(dir, "other-ca.key", "prime256v1");
    self_signed_ca(dir, "other-ca.key", "other-ca.pem", "cnetstat-other-ca");

    ec_key(dir, "server.key", "prime256v1");
    signed(
        dir,
        "server.key",
        "server.pem",
        "/CN=localhost",
        "ca",
        SERVER,
    );
    signed(
        dir,
        "server.key",
        "other-server.pem",
        "/CN=localhost",
        "other-ca",
        SERVER,
    );

    // RSA in PKCS#8 ("PRIVATE KEY"), as openssl writes it.
    rsa_key(dir, "client.key", 2048);
    signed(
        dir,
        "client.key",
        "client.pem",
        &format!("/CN={CLIENT_NAME}"),
        "ca",
        CLIENT,
    );
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            "client.key",
            "-traditional",
            "-out",
            "client-pkcs1.key",
        ],
    );
    signed(
        dir,
        "client.key",
        "client-v1.pem",
        &format!("/CN={CLIENT_NAME}"),
        "ca",
        "",
    );

    // The kubelet's rotated certificate: P-256 in SEC1 ("EC PRIVATE KEY"),
    // certificate and key in one file.
    ec_key(dir, "kubelet.key", "prime256v1");
    signed(
        dir,
        "kubelet.key",
        "kubelet.pem",
        &format!("/O=system:nodes/CN={KUBELET_NAME}"),
        "ca",
        CLIENT,
    );
    let combined = [
        std::fs::read(dir.join("kubelet.pem")).unwrap(),
        std::fs::read(dir.join("kubelet.key")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("kubelet-client-current.pem"), combined).unwrap();
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "kubelet.key",
            "-out",
            "kubelet-pkcs8.key",
        ],
    );
    openssl(
        dir,
        &[
            "ec",
            "-in",
            "kubelet.key",
            "-no_public",
            "-out",
            "kubelet-no-public.key",
        ],
    );

    ec_key(dir, "p384.key", "secp384r1");
    signed(dir, "p384.key", "p384.pem", "/CN=p384", "ca", CLIENT);
    ec_key(dir, "p521.key", "secp521r1");
    signed(dir, "p521.key", "p521.pem", "/CN=p521", "ca", CLIENT);
    rsa_key(dir, "rsa1024.key", 1024);
    signed(
        dir,
        "rsa1024.key",
        "rsa1024.pem",
        "/CN=rsa1024",
        "ca",
        CLIENT,
    );
    openssl(
        dir,
        &["genpkey", "-algorithm", "ed25519", "-out", "ed25519.key"],
    );
    signed(
        dir,
        "ed25519.key",
        "ed25519.pem",
        "/CN=ed25519",
        "ca",
        CLIENT,
    );
    let critical = format!("{CLIENT}1.2.3.4=critical,ASN1:UTF8String:unknown\n");
    signed(
        dir,
        "kubelet.key",
        "kubelet-critical.pem",
        "/CN=critical",
        "ca",
        &critical,
    );

    // Base64 of the CA for kubeconfigs that inline it.
    openssl(
        dir,
        &["base64", "-A", "-in", "ca.pem", "-out", "ca.pem.b64"],
    );
}
