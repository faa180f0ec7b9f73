//! Command line → validated [`Config`]. Parsing never touches the system, so
//! every flag and error message is unit-tested here.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use crate::model::{StateSet, TcpState};

pub const HELP: &str = "\
cnetstat: every TCP socket of every network namespace on this node, with the
Kubernetes namespace, pod and container that owns it.

Usage: cnetstat [OPTIONS]

Which sockets (default: every state but LISTEN, as netstat):
  -a, --all                 Also show listening sockets
  -l, --listening           Show only listening sockets
      --state LIST          Only these states, comma-separated: established,
                            syn-sent, syn-recv, fin-wait-1, fin-wait-2,
                            time-wait, close, close-wait, last-ack, listen,
                            closing (ss and kernel spellings)
      --namespace NS        Only sockets of this Kubernetes namespace
      --pod POD             Only sockets of this pod
      --container NAME      Only sockets of this container (its name, or
                            its id from 12 characters up)

Output:
      --format table|json   Aligned table (default) or JSON Lines
      --summary             Count sockets per (namespace, pod, container,
                            remote address, remote port), largest first
                            (--summaryStatistics is accepted too)
      --top N               Keep only the first N summary groups or rows

Sources:
      --proc DIR            procfs to read (default /proc)
      --root DIR            Node root holding runtime state and sockets
                            (default /, or /host inside a container that has it)
      --backend auto|proc|netlink
                            Read socket tables through sock_diag netlink or
                            /proc text (default auto: netlink when allowed)

  -h, --help                Print this help
  -V, --version             Print the version

Environment: DOCKER_HOST (unix:///path or tcp://host:port) names the Docker
socket; the default is <root>/run/docker.sock.
Exit status: 0 on success, 1 on failure, 2 on a usage error.
";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Auto,
    Proc,
    Netlink,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Config {
    pub states: StateSet,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub format: Format,
    pub summary: bool,
    pub top: Option<usize>,
    pub proc_dir: PathBuf,
    /// None when not given, so the caller can look for /host.
    pub root: Option<PathBuf>,
    pub backend: Backend,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Run(Config),
    Help,
    Version,
}

#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(err: lexopt::Error) -> Self {
        UsageError(err.to_string())
    }
}

pub fn parse<I>(args: I) -> Result<Mode, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let mut all = false;
    let mut listening = false;
    let mut states: Option<StateSet> = None;
    let mut config = Config {
        states: StateSet::ALL,
        namespace: None,
        pod: None,
        container: None,
        format: Format::Table,
        summary: false,
        top: None,
        proc_dir: PathBuf::from("/proc"),
        root: None,
        backend: Backend::Auto,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('a') | Long("all") => all = true,
            Short('l') | Long("listening") => listening = true,
            Long("state") => states = Some(parse_states(&text_value(&mut parser, "--state")?)?),
            Long("namespace") => config.namespace = Some(text_value(&mut parser, "--namespace")?),
            Long("pod") => config.pod = Some(text_value(&mut parser, "--pod")?),
            Long("container") => config.container = Some(text_value(&mut parser, "--container")?),
            Long("format") => {
                config.format = match text_value(&mut parser, "--format")?.as_str() {
                    "table" => Format::Table,
                    "json" => Format::Json,
                    other => {
                        return Err(UsageError(format!(
                            "invalid value '{other}' for --format: expected table or json"
                        )))
                    }
                }
            }
            Long("summary") => config.summary = true,
            // The Go cnetstat's flag, a Go bool flag: bare or =true/=false.
            Long("summaryStatistics") => {
                config.summary = match parser.optional_value() {
                    None => true,
                    Some(value) => match value.to_str() {
                        Some("true" | "1") => true,
                        Some("false" | "0") => false,
                        _ => {
                            return Err(UsageError(format!(
                            "invalid value '{}' for --summaryStatistics: expected true or false",
                            value.to_string_lossy()
                        )))
                        }
                    },
                }
            }
            Long("top") => {
                let value = text_value(&mut parser, "--top")?;
                config.top = Some(value.parse().map_err(|_| {
                    UsageError(format!(
                        "invalid value '{value}' for --top: expected a whole number"
                    ))
                })?);
            }
            Long("proc") => config.proc_dir = parser.value()?.into(),
            Long("root") => config.root = Some(parser.value()?.into()),
            Long("backend") => {
                config.backend = match text_value(&mut parser, "--backend")?.as_str() {
                    "auto" => Backend::Auto,
                    "proc" => Backend::Proc,
                    "netlink" => Backend::Netlink,
                    other => {
                        return Err(UsageError(format!(
                            "invalid value '{other}' for --backend: expected auto, proc or netlink"
                        )))
                    }
                }
            }
            Short('h') | Long("help") => return Ok(Mode::Help),
            Short('V') | Long("version") => return Ok(Mode::Version),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let listen = StateSet(TcpState::Listen.bit());
    config.states = match (states, all, listening) {
        (Some(_), true, _) | (Some(_), _, true) | (None, true, true) => {
            return Err(UsageError(
                "use only one of --state, -a/--all and -l/--listening".into(),
            ))
        }
        (Some(states), false, false) => states,
        (None, true, false) => StateSet::ALL,
        (None, false, true) => listen,
        (None, false, false) => StateSet(StateSet::ALL.0 & !listen.0),
    };
    Ok(Mode::Run(config))
}

fn text_value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    parser
        .value()?
        .into_string()
        .map_err(|raw| UsageError(format!("invalid UTF-8 in the value of {flag}: {raw:?}")))
}

/// Accepts the kernel's names (TIME_WAIT) and ss's (time-wait), any case.
pub fn parse_states(list: &str) -> Result<StateSet, UsageError> {
    let mut set = StateSet(0);
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let wanted: String = word
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let state = TcpState::ALL
            .into_iter()
            .find(|s| s.name().replace('_', "") == wanted)
            .ok_or_else(|| {
                UsageError(format!(
                    "unknown TCP state '{word}' in --state (try time-wait, established, listen, …)"
                ))
            })?;
        set.0 |= state.bit();
    }
    // The kernel keeps request sockets as NEW_SYN_RECV but shows them as
    // SYN_RECV in /proc and sock_diag alike: either word means both.
    let requests = TcpState::SynRecv.bit() | TcpState::NewSynRecv.bit();
    if set.0 & requests != 0 {
        set.0 |= requests;
    }
    if set.0 == 0 {
        return Err(UsageError("--state needs at least one state".into()));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, UsageError> {
        match parse(args.iter().copied())? {
            Mode::Run(config) => Ok(config),
            other => panic!("expected a run, got {other:?}"),
        }
    }

    #[test]
    fn default_is_every_state_but_listen_as_a_table() {
        let config = run(&[]).unwrap();
        assert!(!config.states.contains(TcpState::Listen));
        assert!(config.states.contains(TcpState::TimeWait));
        assert!(config.states.contains(TcpState::Established));
        assert_eq!(config.format, Format::Table);
        assert_eq!(config.proc_dir, PathBuf::from("/proc"));
        assert_eq!(config.root, None);
        assert_eq!(config.backend, Backend::Auto);
    }

    #[test]
    fn all_and_listening() {
        assert_eq!(run(&["-a"]).unwrap().states, StateSet::ALL);
        assert_eq!(
            run(&["--listening"]).unwrap().states,
            StateSet(TcpState::Listen.bit())
        );
        assert!(run(&["-a", "-l"]).is_err());
    }

    #[test]
    fn states_accept_ss_and_kernel_spellings() {
        let set = run(&["--state", "time-wait,ESTABLISHED,fin_wait1,syn-recv"])
            .unwrap()
            .states;
        assert_eq!(
            set.0,
            TcpState::TimeWait.bit()
                | TcpState::Established.bit()
                | TcpState::FinWait1.bit()
                | TcpState::SynRecv.bit()
                | TcpState::NewSynRecv.bit()
        );
        assert_eq!(
            run(&["--state=fin-wait-2"]).unwrap().states.0,
            TcpState::FinWait2.bit()
        );
        let requests = TcpState::SynRecv.bit() | TcpState::NewSynRecv.bit();
        assert_eq!(run(&["--state", "syn-recv"]).unwrap().states.0, requests);
        assert_eq!(
            run(&["--state", "new-syn-recv"]).unwrap().states.0,
            requests
        );
        let err = run(&["--state", "time-wiat"]).unwrap_err();
        assert!(err.to_string().contains("time-wiat"), "{err}");
        assert!(run(&["--state", ","]).is_err());
    }

    #[test]
    fn format_summary_top_and_filters() {
        let config = run(&[
            "--format=json",
            "--summary",
            "--top",
            "5",
            "--namespace",
            "kube-system",
            "--pod",
            "web-0",
            "--container",
            "nginx",
            "--proc",
            "/tmp/p",
            "--root",
            "/host",
            "--backend",
            "proc",
        ])
        .unwrap();
        assert_eq!(config.format, Format::Json);
        assert!(config.summary);
        assert_eq!(config.top, Some(5));
        assert_eq!(config.namespace.as_deref(), Some("kube-system"));
        assert_eq!(config.pod.as_deref(), Some("web-0"));
        assert_eq!(config.container.as_deref(), Some("nginx"));
        assert_eq!(config.proc_dir, PathBuf::from("/tmp/p"));
        assert_eq!(config.root, Some(PathBuf::from("/host")));
        assert_eq!(config.backend, Backend::Proc);
    }

    #[test]
    fn go_style_summary_statistics_flag() {
        assert!(run(&["--summaryStatistics"]).unwrap().summary);
        assert!(run(&["--summaryStatistics=true"]).unwrap().summary);
        assert!(!run(&["--summaryStatistics=false"]).unwrap().summary);
        assert!(run(&["--summaryStatistics=maybe"]).is_err());
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (args, needle) in [
            (&["--format", "yaml"][..], "--format"),
            (&["--top", "-3"][..], "--top"),
            (&["--backend", "ebpf"][..], "--backend"),
            (&["--bogus"][..], "--bogus"),
            (&["--top"][..], "--top"),
            (&["stray"][..], "stray"),
        ] {
            let err = run(args).unwrap_err().to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["-h"]).unwrap(), Mode::Help);
        assert_eq!(parse(["--version"]).unwrap(), Mode::Version);
    }
}
