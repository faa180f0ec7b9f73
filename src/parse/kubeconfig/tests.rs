//! The kubeconfigs under testdata/kube, written by hand in the shapes
//! kubeadm, the kubelet, k3s, kind, aws and gcloud write (see its README);
//! the expected values below were read off those files by hand.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::yaml::{self, Value};
use super::*;

/// The PEM texts whose base64 the fixtures inline (README.md).
const CA_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nY25ldHN0YXQgdGVzdCBDQQ==\n-----END CERTIFICATE-----\n";
const ADMIN_CERT_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nY25ldHN0YXQgYWRtaW4=\n-----END CERTIFICATE-----\n";
const ADMIN_KEY_PEM: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nY25ldHN0YXQga2V5\n-----END RSA PRIVATE KEY-----\n";

fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/kube")
        .join(name);
    let text = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    (path, text)
}

fn select_fixture(name: &str) -> Result<Selection, KubeconfigError> {
    let (path, text) = fixture(name);
    select_current_context(&text, &path)
}

fn problem_of(name: &str) -> (Option<usize>, Problem) {
    let err = select_fixture(name).expect_err(name);
    assert!(err.path.ends_with(name), "{err}");
    (err.line, err.problem)
}

fn select_text(text: &str) -> Result<Selection, KubeconfigError> {
    select_current_context(text.as_bytes(), Path::new("/etc/test/config"))
}

#[test]
fn kubeadm_admin_conf_gives_inline_ca_and_client_certificate() {
    let selection = select_fixture("admin.conf").unwrap();
    assert_eq!(selection.context, "kubernetes-admin@kubernetes");
    assert_eq!(selection.server, "https://192.0.2.10:6443");
    assert_eq!(
        selection.certificate_authority,
        Material::Inline(CA_PEM.into())
    );
    assert_eq!(
        selection.credentials,
        Credentials::ClientCertificate {
            certificate: Material::Inline(ADMIN_CERT_PEM.into()),
            key: Material::Inline(ADMIN_KEY_PEM.into()),
        }
    );
}

#[test]
fn kubelet_conf_names_one_pem_file_for_certificate_and_key() {
    let selection = select_fixture("kubelet.conf").unwrap();
    assert_eq!(selection.context, "default-context");
    assert_eq!(selection.server, "https://192.0.2.10:6443");
    assert_eq!(
        selection.certificate_authority,
        Material::Inline(CA_PEM.into())
    );
    let pem = PathBuf::from("/var/lib/kubelet/pki/kubelet-client-current.pem");
    assert_eq!(
        selection.credentials,
        Credentials::ClientCertificate {
            certificate: Material::File(pem.clone()),
            key: Material::File(pem),
        }
    );
}

#[test]
fn k3s_kubelet_kubeconfig_names_files_for_everything() {
    let selection = select_fixture("k3s-kubelet.kubeconfig").unwrap();
    assert_eq!(selection.context, "Default");
    assert_eq!(selection.server, "https://127.0.0.1:6444");
    assert_eq!(
        selection.certificate_authority,
        Material::File("/var/lib/rancher/k3s/agent/server-ca.crt".into())
    );
    assert_eq!(
        selection.credentials,
        Credentials::ClientCertificate {
            certificate: Material::File("/var/lib/rancher/k3s/agent/client-kubelet.crt".into()),
            key: Material::File("/var/lib/rancher/k3s/agent/client-kubelet.key".into()),
        }
    );
}

#[test]
fn hand_written_kubeconfig_selects_the_current_of_two_contexts() {
    let (path, text) = fixture("hand-written.yaml");
    let selection = select_current_context(&text, &path).unwrap();
    let dir = path.parent().unwrap();
    assert_eq!(selection.context, "staging");
    assert_eq!(selection.server, "https://[2001:db8::10]:6443/");
    // Relative paths are taken from the kubeconfig's directory.
    assert_eq!(
        selection.certificate_authority,
        Material::File(dir.join("pki/staging-ca.crt"))
    );
    assert_eq!(
        selection.credentials,
        Credentials::TokenFile(dir.join("tokens/ci-bot"))
    );
}

#[test]
fn json_kubeconfig_gives_a_token() {
    let selection = select_fixture("kind.json").unwrap();
    assert_eq!(selection.context, "kind-kind");
    assert_eq!(selection.server, "https://127.0.0.1:40423");
    assert_eq!(
        selection.certificate_authority,
        Material::Inline(CA_PEM.into())
    );
    assert_eq!(
        selection.credentials,
        Credentials::Token("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl".into())
    );
}

#[test]
fn exec_plugins_are_refused_naming_the_command() {
    let user = "arn:aws:eks:us-west-2:111122223333:cluster/demo";
    let (line, problem) = problem_of("eks-exec.yaml");
    assert_eq!(line, Some(18));
    assert_eq!(
        problem,
        Problem::ExecPlugin {
            user: user.into(),
            command: "aws".into()
        }
    );

    let err = select_fixture("gke-exec.yaml").unwrap_err();
    assert_eq!(
        err.problem,
        Problem::ExecPlugin {
            user: "gke_my-project_europe-west1_prod".into(),
            command: "gke-gcloud-auth-plugin".into()
        }
    );
    let message = err.to_string();
    assert!(message.starts_with("kubeconfig "), "{message}");
    assert!(
        message.ends_with(
            "gke-exec.yaml, line 18: user \"gke_my-project_europe-west1_prod\" authenticates \
             with an exec plugin (gke-gcloud-auth-plugin), which cnetstat does not run; \
             use a token or client certificate, or a service account"
        ),
        "{message}"
    );
}

#[test]
fn auth_provider_plugins_are_refused_naming_the_provider() {
    let (line, problem) = problem_of("auth-provider.yaml");
    assert_eq!(line, Some(18));
    assert_eq!(
        problem,
        Problem::AuthProvider {
            user: "gke_old".into(),
            provider: "gcp".into()
        }
    );
}

#[test]
fn insecure_skip_tls_verify_is_refused() {
    let (line, problem) = problem_of("insecure.yaml");
    assert_eq!(line, Some(4));
    assert_eq!(
        problem,
        Problem::InsecureSkipTlsVerify {
            cluster: "lab".into()
        }
    );
}

#[test]
fn malformed_files_are_errors_naming_their_line() {
    let cases = [
        ("bad-indentation.yaml", 5, "unexpected indentation"),
        ("tabs.yaml", 5, "tab in indentation"),
        (
            "unterminated-quote.yaml",
            4,
            "string starting on line 4 is still open on line 5",
        ),
        ("deep-nesting.yaml", 4, "nested deeper than 32 levels"),
    ];
    for (name, expected_line, expected_message) in cases {
        let (line, problem) = problem_of(name);
        assert_eq!(line, Some(expected_line), "{name}: {problem}");
        let Problem::Syntax(message) = problem else {
            panic!("{name}: {problem:?}")
        };
        assert!(message.contains(expected_message), "{name}: {message}");
    }
}

#[test]
fn gcloud_install_hint_is_folded_into_one_line() {
    let (_, text) = fixture("gke-exec.yaml");
    let root = yaml::parse(&text).unwrap();
    let users = root.get("users").unwrap();
    let Value::Seq(users) = &users.value else {
        panic!("{users:?}")
    };
    let exec = users[0].get("user").and_then(|u| u.get("exec")).unwrap();
    assert_eq!(
        exec.get("installHint").unwrap().value,
        Value::Scalar(
            "Install gke-gcloud-auth-plugin for use with kubectl by following \
             https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin"
                .into()
        )
    );
    assert_eq!(
        exec.get("provideClusterInfo").unwrap().value,
        Value::Scalar("true".into())
    );
}

#[test]
fn eks_exec_args_are_a_compact_sequence() {
    let (_, text) = fixture("eks-exec.yaml");
    let root = yaml::parse(&text).unwrap();
    let Value::Seq(users) = &root.get("users").unwrap().value else {
        panic!()
    };
    let exec = users[0].get("user").and_then(|u| u.get("exec")).unwrap();
    let Value::Seq(args) = &exec.get("args").unwrap().value else {
        panic!()
    };
    let args: Vec<_> = args
        .iter()
        .map(|a| match &a.value {
            Value::Scalar(s) => s.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        args,
        [
            "--region",
            "us-west-2",
            "eks",
            "get-token",
            "--cluster-name",
            "demo",
            "--output",
            "json"
        ]
    );
    let Value::Seq(env) = &exec.get("env").unwrap().value else {
        panic!()
    };
    assert_eq!(
        env[0].get("value").unwrap().value,
        Value::Scalar("ops".into())
    );
}

#[test]
fn scalars_decode_as_yaml_defines_them() {
    let text = concat!(
        "plain: a b # comment\n",
        "hash: a#b\n",
        "single: 'it''s # not a comment'\n",
        "double: \"tab\\there \\u00e9\\x41 \\\"q\\\" \\\\\"\n",
        "folded: \"one\n",
        "  two\n",
        "\n",
        "  three \\\n",
        "  four\"\n",
        "url: https://192.0.2.1:6443/a:b\n",
        "empty:\n",
        "tilde: ~\n",
        "quoted_null: 'null'\n",
        "flow: {a: [1, \"x, y\", []], b: {}}\n",
        "\"quoted key\": v\n",
    );
    let root = yaml::parse(text.as_bytes()).unwrap();
    let scalar = |key: &str| match &root.get(key).unwrap().value {
        Value::Scalar(s) => s.clone(),
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(scalar("plain"), "a b");
    assert_eq!(scalar("hash"), "a#b");
    assert_eq!(scalar("single"), "it's # not a comment");
    assert_eq!(scalar("double"), "tab\there éA \"q\" \\");
    assert_eq!(scalar("folded"), "one two\nthree four");
    assert_eq!(scalar("url"), "https://192.0.2.1:6443/a:b");
    assert_eq!(root.get("empty").unwrap().value, Value::Null);
    assert_eq!(root.get("tilde").unwrap().value, Value::Null);
    assert_eq!(scalar("quoted_null"), "null");
    assert_eq!(scalar("quoted key"), "v");
    let flow = root.get("flow").unwrap();
    let Value::Seq(items) = &flow.get("a").unwrap().value else {
        panic!("{flow:?}")
    };
    assert_eq!(items[0].value, Value::Scalar("1".into()));
    assert_eq!(items[1].value, Value::Scalar("x, y".into()));
    assert_eq!(items[2].value, Value::Seq(vec![]));
    assert_eq!(flow.get("b").unwrap().value, Value::Map(vec![]));
}

#[test]
fn unsupported_yaml_is_refused_not_guessed() {
    let cases = [
        ("a: |\n  text\n", 1, "block scalars"),
        ("a: &anchor x\n", 1, "anchors, aliases and tags"),
        ("a: *alias\n", 1, "anchors, aliases and tags"),
        ("a: !!str x\n", 1, "anchors, aliases and tags"),
        ("a: 1\n---\nb: 2\n", 2, "only one YAML document"),
        ("%YAML 1.2\n---\na: 1\n", 1, "directives"),
        (
            "a: 1\na: 2\n",
            2,
            "key \"a\" appears twice in one mapping (first on line 1)",
        ),
        ("a: b: c\n", 1, "': ' inside a plain value"),
        ("a:\n  - x\n  b: y\n", 3, "unexpected indentation"),
        (
            "a: 'open\n",
            1,
            "unterminated single-quoted string starting on line 1",
        ),
        ("a: \"\\q\"\n", 1, "unknown escape"),
        ("a: [x, , y]\n", 1, "empty entry"),
        ("a: [x\n", 1, "unterminated flow collection"),
        ("? complex\n", 1, "complex keys"),
        (
            "a: 1\n- b\n",
            2,
            "a list item where a 'key: value' line was expected",
        ),
    ];
    for (text, line, message) in cases {
        let err = yaml::parse(text.as_bytes()).expect_err(text);
        assert_eq!(err.line, line, "{text:?}: {err:?}");
        assert!(err.message.contains(message), "{text:?}: {err:?}");
    }
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_are_read() {
    let text = "\u{feff}current-context: x\r\ncontexts:\r\n- name: x\r\n  context:\r\n    cluster: c\r\nclusters:\r\n- name: c\r\n  cluster:\r\n    server: https://192.0.2.1\r\n    certificate-authority: ca.crt\r\n";
    let selection = select_text(text).unwrap();
    assert_eq!(selection.server, "https://192.0.2.1");
    assert_eq!(
        selection.certificate_authority,
        Material::File("/etc/test/ca.crt".into())
    );
    assert_eq!(selection.credentials, Credentials::Anonymous);
}

const MINIMAL: &str = "current-context: x\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\nclusters:\n- name: c\n  cluster:\n    server: https://192.0.2.1\n    certificate-authority-data: Zm9v\n";

#[test]
fn references_that_lead_nowhere_are_errors() {
    let with_users = |users: &str| format!("{MINIMAL}users:\n{users}");
    let cases = [
        (
            MINIMAL.replace("current-context: x", "current-context: y"),
            Problem::ContextNotFound {
                context: "y".into(),
            },
        ),
        (
            MINIMAL.replace("current-context: x\n", ""),
            Problem::NoCurrentContext,
        ),
        (
            MINIMAL.replace("cluster: c\n    user", "cluster: d\n    user"),
            Problem::ClusterNotFound {
                context: "x".into(),
                cluster: "d".into(),
            },
        ),
        (
            with_users("- name: v\n"),
            Problem::UserNotFound {
                context: "x".into(),
                user: "u".into(),
            },
        ),
        (
            with_users("- name: u\n  user: {}\n- name: u\n  user: {}\n"),
            Problem::Duplicate {
                section: "users",
                name: "u".into(),
            },
        ),
        (
            MINIMAL.replace("    certificate-authority-data: Zm9v\n", ""),
            Problem::NoCertificateAuthority {
                cluster: "c".into(),
            },
        ),
        (
            MINIMAL.replace("Zm9v", "Zm9v!"),
            Problem::BadBase64 {
                owner: "cluster \"c\"".into(),
                field: "certificate-authority-data",
            },
        ),
        (
            with_users("- name: u\n  user:\n    client-certificate: a.crt\n"),
            Problem::IncompleteClientCertificate {
                user: "u".into(),
                missing: "client-key",
            },
        ),
        (
            with_users("- name: u\n  user:\n    username: admin\n    password: secret\n"),
            Problem::BasicAuth { user: "u".into() },
        ),
        (
            MINIMAL.replace("clusters:\n", "clusters: oops\nx:\n"),
            Problem::WrongType {
                field: "clusters".into(),
                expected: "a list",
            },
        ),
        ("- a\n- b\n".to_string(), Problem::NotAMapping),
    ];
    for (text, expected) in cases {
        let err = select_text(&text).expect_err(&text);
        assert_eq!(err.problem, expected, "{text}");
    }
}

#[test]
fn a_user_without_credentials_is_anonymous_and_a_token_is_used() {
    let anonymous = select_text(&format!("{MINIMAL}users:\n- name: u\n  user: {{}}\n")).unwrap();
    assert_eq!(anonymous.credentials, Credentials::Anonymous);
    let token = select_text(&format!(
        "{MINIMAL}users:\n- name: u\n  user:\n    token: abc\n"
    ))
    .unwrap();
    assert_eq!(token.credentials, Credentials::Token("abc".into()));
    assert_eq!(
        token.certificate_authority,
        Material::Inline(b"foo".to_vec())
    );
}

#[test]
fn base64_decodes_the_rfc_4648_vectors_and_refuses_the_rest() {
    let vectors = [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
        ("Zm9v\nYmFy\n", "foobar"),
    ];
    for (encoded, decoded) in vectors {
        assert_eq!(
            decode_base64(encoded).as_deref(),
            Some(decoded.as_bytes()),
            "{encoded:?}"
        );
    }
    // The last two digits, worked out by hand: 62 = 111110, 63 = 111111.
    assert_eq!(decode_base64("/+/+"), Some(vec![0xFF, 0xEF, 0xFE]));
    assert_eq!(decode_base64("+/8="), Some(vec![0xFB, 0xFF]));
    for bad in ["Zm9", "Zg=", "Zg==Zg==", "Z===", "Zm9v-A==", "Zm=v"] {
        assert_eq!(decode_base64(bad), None, "{bad:?}");
    }
}

/// Generous for a debug build on a loaded CI machine; quadratic work on
/// these inputs would take minutes.
const LINEAR_TIME: Duration = Duration::from_secs(5);

#[test]
fn a_ten_megabyte_line_is_read_in_linear_time() {
    let token = "t".repeat(10 << 20);
    let text = format!("{MINIMAL}users:\n- name: u\n  user:\n    token: {token}\n");
    let started = Instant::now();
    let selection = select_text(&text).unwrap();
    assert!(started.elapsed() < LINEAR_TIME, "{:?}", started.elapsed());
    assert_eq!(selection.credentials, Credentials::Token(token));
}

#[test]
fn hostile_inputs_fail_fast_naming_their_line() {
    let unterminated = format!(
        "{MINIMAL}users:\n- name: u\n  user:\n    token: \"{}\n",
        "t".repeat(10 << 20)
    );
    let deep_flow = format!("a: {}\n", "[".repeat(10 << 20));
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let many_keys: String = (0..200_000).map(|i| format!("k{i}: v\n")).collect();
    let cases: [(&str, Option<usize>, &str); 4] = [
        (
            &unterminated,
            Some(15),
            "unterminated double-quoted string starting on line 15",
        ),
        (&deep_flow, Some(1), "nested deeper than 32 levels"),
        (
            &format!("{{\"a\": {deep_json}}}"),
            None,
            "recursion limit exceeded",
        ),
        (&many_keys, None, "no current-context is set"),
    ];
    for (text, line, message) in cases {
        let started = Instant::now();
        let err = select_text(text).expect_err(message);
        assert!(
            started.elapsed() < LINEAR_TIME,
            "{message}: {:?}",
            started.elapsed()
        );
        assert_eq!(err.line, line, "{err}");
        assert!(err.to_string().contains(message), "{err}");
    }
}

#[test]
fn files_over_the_size_limit_are_refused_unread() {
    let text = vec![b'#'; MAX_KUBECONFIG_BYTES + 1];
    let err = select_current_context(&text, Path::new("/big")).unwrap_err();
    assert_eq!(
        err.problem,
        Problem::TooLarge {
            bytes: MAX_KUBECONFIG_BYTES + 1
        }
    );
}

#[test]
fn debug_output_hides_tokens_and_inline_keys() {
    let credentials = Credentials::ClientCertificate {
        certificate: Material::Inline(b"cert".to_vec()),
        key: Material::Inline(b"secret key".to_vec()),
    };
    assert_eq!(
        format!("{credentials:?}"),
        "ClientCertificate { certificate: Inline(4 bytes), key: Inline(10 bytes) }"
    );
    assert_eq!(
        format!("{:?}", Credentials::Token("secret".into())),
        "Token(6 bytes)"
    );
}
