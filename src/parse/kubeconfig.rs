//! A kubeconfig reduced to what cnetstat needs to call the API server: the
//! current context's server, the CA to verify it with, and the user's token
//! or client certificate.
//!
//! kubeconfigs are YAML (kubectl, kubeadm, k3s, cloud CLIs) or JSON; JSON
//! (first non-blank byte `{`) goes to serde_json, YAML to the strict subset
//! parser in [`yaml`]. Pure over bytes: files the kubeconfig names
//! (`certificate-authority`, `client-key`, `tokenFile`) are returned as
//! paths, relative ones taken from the kubeconfig's own directory as
//! kubectl does, for the caller to read.
//!
//! What cnetstat will not do is an error, not a silent fallback:
//! - `insecure-skip-tls-verify: true` is refused: the API server is
//!   verified against the cluster's CA, or not called.
//! - A cluster with no CA is refused rather than checked against public
//!   roots, which vouch for no cluster.
//! - `exec` and `auth-provider` users (aws, gke-gcloud-auth-plugin,
//!   kubelogin, the old gcp/oidc providers) would need cnetstat to run
//!   programs the kubeconfig names, as root; basic auth was removed from
//!   Kubernetes in 1.19.
//!
//! Fields it ignores: `proxy-url` (cnetstat never uses a proxy),
//! `tls-server-name`, impersonation (`as`, `as-groups`), `extensions`.

// Public to the fuzz target, which parses YAML on its own too.
#[cfg(not(fuzzing))]
mod yaml;
#[cfg(fuzzing)]
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use yaml::{Node, Value};

/// Far above real kubeconfigs (a few KB; a few MB with hundreds of
/// contexts), low enough that a wrong file costs little memory.
pub const MAX_KUBECONFIG_BYTES: usize = 16 << 20;

/// What the current context says to use.
#[derive(Debug, PartialEq)]
pub struct Selection {
    pub context: String,
    /// `https://host:port`, possibly with a path prefix, as written.
    pub server: String,
    pub certificate_authority: Material,
    pub credentials: Credentials,
}

/// A certificate, key or token given inline or as a file to read.
#[derive(PartialEq)]
pub enum Material {
    Inline(Vec<u8>),
    File(PathBuf),
}

#[derive(PartialEq)]
pub enum Credentials {
    Token(String),
    TokenFile(PathBuf),
    ClientCertificate {
        certificate: Material,
        key: Material,
    },
    /// The context names no user, or a user with no credentials.
    Anonymous,
}

// Inline keys and tokens are secrets: Debug output (test failures, logs)
// shows only their size.
impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Material::Inline(bytes) => write!(f, "Inline({} bytes)", bytes.len()),
            Material::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(token) => write!(f, "Token({} bytes)", token.len()),
            Credentials::TokenFile(path) => f.debug_tuple("TokenFile").field(path).finish(),
            Credentials::ClientCertificate { certificate, key } => f
                .debug_struct("ClientCertificate")
                .field("certificate", certificate)
                .field("key", key)
                .finish(),
            Credentials::Anonymous => f.write_str("Anonymous"),
        }
    }
}

#[derive(Debug)]
pub struct KubeconfigError {
    pub path: PathBuf,
    /// 1-based line of the offending node; `None` where no line applies (JSON
    /// kubeconfigs, whose parser places only syntax errors, in its message).
    pub line: Option<usize>,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    TooLarge {
        bytes: usize,
    },
    Syntax(String),
    Json(String),
    NotAMapping,
    NoCurrentContext,
    ContextNotFound {
        context: String,
    },
    ClusterNotFound {
        context: String,
        cluster: String,
    },
    UserNotFound {
        context: String,
        user: String,
    },
    /// Two entries of `section` (contexts, clusters, users) share a name.
    Duplicate {
        section: &'static str,
        name: String,
    },
    WrongType {
        field: String,
        expected: &'static str,
    },
    MissingField {
        owner: String,
        field: &'static str,
    },
    BadBase64 {
        owner: String,
        field: &'static str,
    },
    InsecureSkipTlsVerify {
        cluster: String,
    },
    NoCertificateAuthority {
        cluster: String,
    },
    IncompleteClientCertificate {
        user: String,
        missing: &'static str,
    },
    ExecPlugin {
        user: String,
        command: String,
    },
    AuthProvider {
        user: String,
        provider: String,
    },
    BasicAuth {
        user: String,
    },
}

impl fmt::Display for KubeconfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kubeconfig {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for KubeconfigError {}

const USE_INSTEAD: &str = "use a token or client certificate, or a service account";

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooLarge { bytes } => write!(
                f,
                "{bytes} bytes is more than a kubeconfig may have ({MAX_KUBECONFIG_BYTES})"
            ),
            Problem::Syntax(message) => f.write_str(message),
            Problem::Json(message) => write!(f, "not valid JSON: {message}"),
            Problem::NotAMapping => f.write_str("not a kubeconfig (the top level is no mapping)"),
            Problem::NoCurrentContext => f.write_str("no current-context is set"),
            Problem::ContextNotFound { context } => {
                write!(f, "current-context \"{context}\" is not among its contexts")
            }
            Problem::ClusterNotFound { context, cluster } => write!(
                f,
                "context \"{context}\" names cluster \"{cluster}\", which is not among its clusters"
            ),
            Problem::UserNotFound { context, user } => write!(
                f,
                "context \"{context}\" names user \"{user}\", which is not among its users"
            ),
            Problem::Duplicate { section, name } => {
                write!(f, "two entries of {section} are named \"{name}\"")
            }
            Problem::WrongType { field, expected } => write!(f, "{field} should be {expected}"),
            Problem::MissingField { owner, field } => write!(f, "{owner} has no {field}"),
            Problem::BadBase64 { owner, field } => {
                write!(f, "{owner}: {field} is not valid base64")
            }
            Problem::InsecureSkipTlsVerify { cluster } => write!(
                f,
                "cluster \"{cluster}\" sets insecure-skip-tls-verify, which cnetstat refuses: \
                 it verifies the API server against the cluster's CA or does not call it"
            ),
            Problem::NoCertificateAuthority { cluster } => write!(
                f,
                "cluster \"{cluster}\" has neither certificate-authority-data nor \
                 certificate-authority; cnetstat verifies the API server against the \
                 cluster's CA only, never against public roots"
            ),
            Problem::IncompleteClientCertificate { user, missing } => {
                write!(
                    f,
                    "user \"{user}\" has half a client certificate: no {missing}"
                )
            }
            Problem::ExecPlugin { user, command } => write!(
                f,
                "user \"{user}\" authenticates with an exec plugin ({command}), \
                 which cnetstat does not run; {USE_INSTEAD}"
            ),
            Problem::AuthProvider { user, provider } => write!(
                f,
                "user \"{user}\" authenticates with the auth-provider plugin \"{provider}\", \
                 which cnetstat does not run; {USE_INSTEAD}"
            ),
            Problem::BasicAuth { user } => write!(
                f,
                "user \"{user}\" authenticates with a username and password (basic auth, \
                 removed in Kubernetes 1.19); {USE_INSTEAD}"
            ),
        }
    }
}

/// Resolves the current context of the kubeconfig `text`, read from `path`.
pub fn select_current_context(text: &[u8], path: &Path) -> Result<Selection, KubeconfigError> {
    let resolver = Resolver { path };
    if text.len() > MAX_KUBECONFIG_BYTES {
        return Err(resolver.error(None, Problem::TooLarge { bytes: text.len() }));
    }
    let root = if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let json: serde_json::Value = serde_json::from_slice(text)
            .map_err(|err| resolver.error(None, Problem::Json(err.to_string())))?;
        from_json(json)
    } else {
        yaml::parse(text)
            .map_err(|err| resolver.error(Some(err.line), Problem::Syntax(err.message)))?
    };
    resolver.select(&root)
}

/// serde_json already bounds nesting (128 levels), so this recursion is
/// bounded too.
fn from_json(value: serde_json::Value) -> Node {
    let value = match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Scalar(b.to_string()),
        serde_json::Value::Number(n) => Value::Scalar(n.to_string()),
        serde_json::Value::String(s) => Value::Scalar(s),
        serde_json::Value::Array(items) => Value::Seq(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.into_iter()
                .map(|(key, value)| yaml::Entry {
                    key,
                    line: None,
                    node: from_json(value),
                })
                .collect(),
        ),
    };
    Node { line: None, value }
}

struct Resolver<'a> {
    path: &'a Path,
}

impl Resolver<'_> {
    fn error(&self, line: Option<usize>, problem: Problem) -> KubeconfigError {
        KubeconfigError {
            path: self.path.to_path_buf(),
            line,
            problem,
        }
    }

    fn select(&self, root: &Node) -> Result<Selection, KubeconfigError> {
        if !matches!(root.value, Value::Map(_)) {
            return Err(self.error(None, Problem::NotAMapping));
        }
        let context_name = self
            .string(root, "current-context", "current-context")?
            .filter(|name| !name.is_empty())
            .ok_or_else(|| self.error(None, Problem::NoCurrentContext))?;
        let context_entry = self.named(root, "contexts", context_name)?.ok_or_else(|| {
            self.error(
                root.key_line("current-context"),
                Problem::ContextNotFound {
                    context: context_name.to_string(),
                },
            )
        })?;
        let owner = format!("context \"{context_name}\"");
        let context = self.mapping(context_entry, "context", &owner)?;
        let cluster_name = self
            .string(context, "cluster", &owner)?
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                self.error(
                    context.line,
                    Problem::MissingField {
                        owner: owner.clone(),
                        field: "cluster",
                    },
                )
            })?;
        let user_name = self.string(context, "user", &owner)?.unwrap_or("");

        let cluster_entry = self.named(root, "clusters", cluster_name)?.ok_or_else(|| {
            self.error(
                context.key_line("cluster"),
                Problem::ClusterNotFound {
                    context: context_name.to_string(),
                    cluster: cluster_name.to_string(),
                },
            )
        })?;
        let owner = format!("cluster \"{cluster_name}\"");
        let cluster = self.mapping(cluster_entry, "cluster", &owner)?;
        let server = self
            .string(cluster, "server", &owner)?
            .filter(|server| !server.is_empty())
            .ok_or_else(|| {
                self.error(
                    cluster.line,
                    Problem::MissingField {
                        owner: owner.clone(),
                        field: "server",
                    },
                )
            })?;
        if self.boolean(cluster, "insecure-skip-tls-verify", &owner)? {
            return Err(self.error(
                cluster.key_line("insecure-skip-tls-verify"),
                Problem::InsecureSkipTlsVerify {
                    cluster: cluster_name.to_string(),
                },
            ));
        }
        let certificate_authority = self
            .material(
                cluster,
                "certificate-authority-data",
                "certificate-authority",
                &owner,
            )?
            .ok_or_else(|| {
                self.error(
                    cluster.line,
                    Problem::NoCertificateAuthority {
                        cluster: cluster_name.to_string(),
                    },
                )
            })?;

        let credentials = if user_name.is_empty() {
            Credentials::Anonymous
        } else {
            let user_entry = self.named(root, "users", user_name)?.ok_or_else(|| {
                self.error(
                    context.key_line("user"),
                    Problem::UserNotFound {
                        context: context_name.to_string(),
                        user: user_name.to_string(),
                    },
                )
            })?;
            self.credentials(user_name, user_entry)?
        };
        Ok(Selection {
            context: context_name.to_string(),
            server: server.to_string(),
            certificate_authority,
            credentials,
        })
    }

    /// A client certificate wins over a token, as the API server tries x509
    /// before tokens when kubectl sends both; `tokenFile` wins over `token`,
    /// as client-go's transport prefers the file's token while it can read
    /// it.
    fn credentials(&self, name: &str, entry: &Node) -> Result<Credentials, KubeconfigError> {
        let owner = format!("user \"{name}\"");
        let user = match entry.get("user") {
            None => return Ok(Credentials::Anonymous),
            Some(node) if node.value == Value::Null => return Ok(Credentials::Anonymous),
            Some(_) => self.mapping(entry, "user", &owner)?,
        };
        let user_name = name.to_string();
        if let Some(exec) = present(user.get("exec")) {
            let command = match exec.get("command").map(|n| &n.value) {
                Some(Value::Scalar(command)) => command.clone(),
                _ => "no command given".into(),
            };
            return Err(self.error(
                user.key_line("exec"),
                Problem::ExecPlugin {
                    user: user_name,
                    command,
                },
            ));
        }
        if let Some(provider) = present(user.get("auth-provider")) {
            let provider_name = match provider.get("name").map(|n| &n.value) {
                Some(Value::Scalar(name)) => name.clone(),
                _ => "unnamed".into(),
            };
            return Err(self.error(
                user.key_line("auth-provider"),
                Problem::AuthProvider {
                    user: user_name,
                    provider: provider_name,
                },
            ));
        }
        for basic in ["username", "password"] {
            if present(user.get(basic)).is_some() {
                return Err(
                    self.error(user.key_line(basic), Problem::BasicAuth { user: user_name })
                );
            }
        }
        let certificate = self.material(
            user,
            "client-certificate-data",
            "client-certificate",
            &owner,
        )?;
        let key = self.material(user, "client-key-data", "client-key", &owner)?;
        match (certificate, key) {
            (Some(certificate), Some(key)) => {
                return Ok(Credentials::ClientCertificate { certificate, key })
            }
            (Some(_), None) => {
                return Err(self.error(
                    user.line,
                    Problem::IncompleteClientCertificate {
                        user: user_name,
                        missing: "client-key",
                    },
                ))
            }
            (None, Some(_)) => {
                return Err(self.error(
                    user.line,
                    Problem::IncompleteClientCertificate {
                        user: user_name,
                        missing: "client-certificate",
                    },
                ))
            }
            (None, None) => {}
        }
        if let Some(file) = self
            .string(user, "tokenFile", &owner)?
            .filter(|f| !f.is_empty())
        {
            return Ok(Credentials::TokenFile(self.relative_to_kubeconfig(file)));
        }
        match self
            .string(user, "token", &owner)?
            .filter(|t| !t.is_empty())
        {
            Some(token) => Ok(Credentials::Token(token.to_string())),
            None => Ok(Credentials::Anonymous),
        }
    }

    /// The entry of the list `section` (`contexts`, …) named `name`.
    fn named<'n>(
        &self,
        root: &'n Node,
        section: &'static str,
        name: &str,
    ) -> Result<Option<&'n Node>, KubeconfigError> {
        let items = match root.get(section).map(|n| (n, &n.value)) {
            None | Some((_, Value::Null)) => return Ok(None),
            Some((_, Value::Seq(items))) => items,
            Some(_) => {
                return Err(self.error(
                    root.key_line(section),
                    Problem::WrongType {
                        field: section.to_string(),
                        expected: "a list",
                    },
                ))
            }
        };
        let mut found = None;
        for item in items {
            if !matches!(item.value, Value::Map(_)) {
                return Err(self.error(
                    item.line,
                    Problem::WrongType {
                        field: format!("an entry of {section}"),
                        expected: "a mapping",
                    },
                ));
            }
            if self.string(item, "name", section)? != Some(name) {
                continue;
            }
            if found.is_some() {
                return Err(self.error(
                    item.line,
                    Problem::Duplicate {
                        section,
                        name: name.to_string(),
                    },
                ));
            }
            found = Some(item);
        }
        Ok(found)
    }

    fn mapping<'n>(
        &self,
        parent: &'n Node,
        key: &str,
        owner: &str,
    ) -> Result<&'n Node, KubeconfigError> {
        match parent.get(key) {
            Some(node) if matches!(node.value, Value::Map(_)) => Ok(node),
            Some(_) => Err(self.error(
                parent.key_line(key),
                Problem::WrongType {
                    field: format!("{key} of {owner}"),
                    expected: "a mapping",
                },
            )),
            None => Err(self.error(
                parent.line,
                Problem::MissingField {
                    owner: owner.to_string(),
                    field: "the mapping of its settings",
                },
            )),
        }
    }

    fn string<'n>(
        &self,
        parent: &'n Node,
        key: &str,
        owner: &str,
    ) -> Result<Option<&'n str>, KubeconfigError> {
        match parent.get(key) {
            None => Ok(None),
            Some(node) => match &node.value {
                Value::Null => Ok(None),
                Value::Scalar(text) => Ok(Some(text)),
                _ => Err(self.error(
                    parent.key_line(key),
                    Problem::WrongType {
                        field: format!("{key} of {owner}"),
                        expected: "a string",
                    },
                )),
            },
        }
    }

    /// YAML 1.1 booleans, as Go's YAML reader takes them.
    fn boolean(&self, parent: &Node, key: &str, owner: &str) -> Result<bool, KubeconfigError> {
        match self.string(parent, key, owner)? {
            None => Ok(false),
            Some(
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y",
            ) => Ok(true),
            Some(
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n"
                | "N",
            ) => Ok(false),
            Some(_) => Err(self.error(
                parent.key_line(key),
                Problem::WrongType {
                    field: format!("{key} of {owner}"),
                    expected: "true or false",
                },
            )),
        }
    }

    /// Inline base64 `data_key` if set (it wins, as in client-go), else the
    /// file `file_key`.
    fn material(
        &self,
        parent: &Node,
        data_key: &'static str,
        file_key: &str,
        owner: &str,
    ) -> Result<Option<Material>, KubeconfigError> {
        if let Some(data) = self
            .string(parent, data_key, owner)?
            .filter(|d| !d.is_empty())
        {
            return match decode_base64(data) {
                Some(bytes) => Ok(Some(Material::Inline(bytes))),
                None => Err(self.error(
                    parent.key_line(data_key),
                    Problem::BadBase64 {
                        owner: owner.to_string(),
                        field: data_key,
                    },
                )),
            };
        }
        Ok(self
            .string(parent, file_key, owner)?
            .filter(|f| !f.is_empty())
            .map(|file| Material::File(self.relative_to_kubeconfig(file))))
    }

    fn relative_to_kubeconfig(&self, file: &str) -> PathBuf {
        match self.path.parent() {
            Some(dir) if Path::new(file).is_relative() => dir.join(file),
            _ => PathBuf::from(file),
        }
    }
}

/// A field that is set: present and not `null`.
fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| n.value != Value::Null)
}

/// Standard base64 with padding, as Go encodes `[]byte` fields in YAML and
/// JSON; blanks and line breaks are skipped, as Go's decoder skips line
/// breaks.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 4 != 0 {
        return None;
    }
    let quads = digits.len() / 4;
    let mut out = Vec::with_capacity(quads * 3);
    for (i, quad) in digits.chunks_exact(4).enumerate() {
        let padding = match quad {
            [.., b'=', b'='] => 2,
            [.., b'='] => 1,
            _ => 0,
        };
        if padding > 0 && i + 1 != quads {
            return None;
        }
        let mut bits = 0u32;
        for &digit in &quad[..4 - padding] {
            bits = bits << 6 | u32::from(sextet(digit)?);
        }
        bits <<= 6 * padding;
        out.extend_from_slice(&bits.to_be_bytes()[1..4 - padding]);
    }
    Some(out)
}

fn sextet(digit: u8) -> Option<u8> {
    match digit {
        b'A'..=b'Z' => Some(digit - b'A'),
        b'a'..=b'z' => Some(digit - b'a' + 26),
        b'0'..=b'9' => Some(digit - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
