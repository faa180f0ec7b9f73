//! Command line → [`Args`], exactly what the user typed, checked for
//! consistency. Parsing never touches the system, so every flag and error
//! message is unit-tested here; config.rs resolves the rest.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use crate::analyze::filter::{BadEndpoint, EndpointFilter, RemoteFilter};
use crate::analyze::summary::Key;
use crate::model::{StateSet, TcpState};

pub const HELP: &str = "\
cnetstat: every TCP and UDP socket of every network namespace on this node,
with the Kubernetes namespace, pod and container that owns it.

Usage: cnetstat [OPTIONS]

Which sockets (default: TCP, every state but LISTEN, as netstat):
  -t, --tcp                 TCP sockets (the default, unless -u is given)
  -u, --udp                 UDP sockets; -t -u: both
  -a, --all                 Also show listening sockets: TCP's LISTEN and
                            UDP's UNCONN (unconnected)
  -l, --listening           Show only listening sockets
      --state LIST          Only these states, comma-separated: established,
                            syn-sent, syn-recv, fin-wait-1, fin-wait-2,
                            time-wait, close, close-wait, last-ack, listen,
                            closing, unconn (UDP's unconnected, the
                            kernel's close) (ss and kernel spellings), or
                            ss's groups: connected, synchronized, bucket,
                            big, all
      --namespace NS        Only sockets of this Kubernetes namespace
      --pod POD             Only sockets of this pod
      --container NAME      Only sockets of this container (its name, or
                            its id from 12 characters up)
      --remote ADDR         Only sockets whose remote end is ADDR: an
                            address, ADDR/LEN, ADDR:PORT, [IPv6]:PORT or
                            :PORT (an IPv4 address matches its ::ffff: form),
                            or a name: svc/NS/NAME, pod/NS/NAME, node/NAME
      --local ADDR          The same for the local end
      --port N              Only sockets with port N at either end

Output:
      --format table|json   Aligned table (default) or JSON Lines
  -o, --timers              Show each socket's timer (ss -o) in the table
      --summary             Count sockets per owner, direction and the
                            service's end (the remote address and port of
                            outbound sockets, the listening one of inbound
                            sockets, with their clients), largest first
                            (--summaryStatistics is accepted too)
      --by KEYS             Group the summary by these keys instead,
                            comma-separated: netns, namespace, pod,
                            container, direction, proto, remote, local,
                            state (implies --summary)
      --top N               Keep only the first N summary groups or rows
      --ports               Port budgets instead of sockets: how full each
                            namespace's ephemeral ports are per destination
                            (TCP) and in all (UDP), the node's SNAT ports
                            per destination, and the conntrack tables'
                            counters, fullest first; TCP and UDP unless -t
                            or -u picks one
      --snat-ports N        Also each destination's budget of N ports at a
                            NAT outside the node (a cloud load balancer's
                            per-node allocation; implies --ports)

Watching:
      --watch [SECONDS]     Collect every SECONDS (default 2) and show, per
                            pod, container, direction and destination, new
                            and closed connections and failed attempts per
                            second, ESTABLISHED and TIME_WAIT now; with
                            --ports, how soon each budget fills at that
                            rate. A full-screen view on a terminal (q quits),
                            else JSON Lines every tick
      --count N             Stop after N ticks

Recordings:
      --record FILE         Also write everything collected (every socket,
                            whatever the filters) to FILE, to look at later
                            or elsewhere with --replay; `-`: write it to
                            stdout and show nothing. With --watch, a
                            snapshot a line, every tick
      --replay FILE         Read a recording (`-`: stdin) instead of this node

Sources:
      --proc DIR            procfs to read (default /proc)
      --root DIR            Node root holding runtime state and sockets
                            (default /, or /host inside a container that has it)
      --backend auto|proc|netlink
                            Read socket tables through sock_diag netlink or
                            /proc text (default auto: netlink when allowed)
      --kube                Also name remote pods, Services and nodes of the
                            whole cluster from the Kubernetes API (one list
                            call each, 3 s in all) with the credentials of
                            KUBECONFIG, else the kubelet's under --root, else
                            the pod's service account
      --kubeconfig FILE     Use FILE's current context for --kube (implies it)

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

/// A file given on the command line, where `-` means stdin or stdout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileArg {
    Path(PathBuf),
    Std,
}

impl From<OsString> for FileArg {
    fn from(value: OsString) -> FileArg {
        if value == "-" {
            FileArg::Std
        } else {
            FileArg::Path(value.into())
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    /// `-t` and `-u` as given; config.rs picks the default for the view.
    pub tcp: bool,
    pub udp: bool,
    pub states: StateSet,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub format: Format,
    pub summary: bool,
    pub top: Option<usize>,
    pub by: Option<Vec<Key>>,
    pub timers: bool,
    pub ports: bool,
    pub snat_ports: Option<u32>,
    pub remote: Option<RemoteFilter>,
    pub local: Option<EndpointFilter>,
    pub port: Option<u16>,
    /// None when not given: the live /proc.
    pub proc_dir: Option<PathBuf>,
    /// None when not given, so config.rs can look for /host.
    pub root: Option<PathBuf>,
    pub backend: Backend,
    pub kube: bool,
    pub kubeconfig: Option<PathBuf>,
    pub record: Option<FileArg>,
    pub replay: Option<FileArg>,
    /// `--watch`: its interval in milliseconds (None when given without
    /// SECONDS to a replay, which keeps the recording's).
    pub watch: Option<WatchArg>,
    pub count: Option<u64>,
}

/// `--watch`, with or without its SECONDS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchArg {
    Default,
    EveryMs(u64),
}

impl WatchArg {
    pub const DEFAULT_MS: u64 = 2_000;

    pub fn every_ms(self) -> u64 {
        match self {
            WatchArg::Default => WatchArg::DEFAULT_MS,
            WatchArg::EveryMs(ms) => ms,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Run(Box<Args>),
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
    let mut parsed = Args {
        tcp: false,
        udp: false,
        states: StateSet::ALL,
        namespace: None,
        pod: None,
        container: None,
        format: Format::Table,
        summary: false,
        top: None,
        by: None,
        timers: false,
        ports: false,
        snat_ports: None,
        remote: None,
        local: None,
        port: None,
        proc_dir: None,
        root: None,
        backend: Backend::Auto,
        kube: false,
        kubeconfig: None,
        record: None,
        replay: None,
        watch: None,
        count: None,
    };
    let mut backend_given = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('t') | Long("tcp") => parsed.tcp = true,
            Short('u') | Long("udp") => parsed.udp = true,
            Short('a') | Long("all") => all = true,
            Short('l') | Long("listening") => listening = true,
            Long("state") => states = Some(parse_states(&text_value(&mut parser, "--state")?)?),
            Long("namespace") => parsed.namespace = Some(text_value(&mut parser, "--namespace")?),
            Long("pod") => parsed.pod = Some(text_value(&mut parser, "--pod")?),
            Long("container") => parsed.container = Some(text_value(&mut parser, "--container")?),
            Long("format") => {
                parsed.format = match text_value(&mut parser, "--format")?.as_str() {
                    "table" => Format::Table,
                    "json" => Format::Json,
                    other => {
                        return Err(UsageError(format!(
                            "invalid value '{other}' for --format: expected table or json"
                        )))
                    }
                }
            }
            Long("summary") => parsed.summary = true,
            // The Go cnetstat's flag, a Go bool flag: bare or =true/=false.
            Long("summaryStatistics") => {
                parsed.summary = match parser.optional_value() {
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
                parsed.top = Some(value.parse().map_err(|_| {
                    UsageError(format!(
                        "invalid value '{value}' for --top: expected how many rows or groups to \
                         keep, 0 or more"
                    ))
                })?);
            }
            Long("by") => {
                parsed.by = Some(parse_keys(&text_value(&mut parser, "--by")?)?);
                parsed.summary = true;
            }
            Short('o') | Long("timers") => parsed.timers = true,
            Long("ports") => parsed.ports = true,
            Long("snat-ports") => {
                let value = text_value(&mut parser, "--snat-ports")?;
                let ports = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=65536).contains(n));
                parsed.snat_ports = Some(ports.ok_or_else(|| {
                    UsageError(format!(
                        "invalid value '{value}' for --snat-ports: expected a number of ports, 1 to 65536"
                    ))
                })?);
                parsed.ports = true;
            }
            Long("remote") => parsed.remote = Some(parsed_value(&mut parser, "--remote")?),
            Long("local") => parsed.local = Some(parsed_value(&mut parser, "--local")?),
            Long("port") => {
                let value = text_value(&mut parser, "--port")?;
                parsed.port = Some(value.parse().map_err(|_| {
                    UsageError(format!(
                        "invalid value '{value}' for --port: expected a port, 0 to 65535"
                    ))
                })?);
            }
            Long("proc") => parsed.proc_dir = Some(parser.value()?.into()),
            Long("root") => parsed.root = Some(parser.value()?.into()),
            Long("kube") => parsed.kube = true,
            Long("kubeconfig") => {
                parsed.kubeconfig = Some(parser.value()?.into());
                parsed.kube = true;
            }
            Long("record") => parsed.record = Some(parser.value()?.into()),
            Long("replay") => parsed.replay = Some(parser.value()?.into()),
            Long("watch") => {
                // SECONDS is optional: `--watch=5`, `--watch 5`, or a bare
                // `--watch` followed by another flag.
                let given = match parser.optional_value() {
                    Some(value) => Some(value),
                    None => parser.try_raw_args().and_then(|mut raw| {
                        raw.next_if(|arg| arg.to_str().is_some_and(is_seconds))
                    }),
                };
                parsed.watch = Some(match given {
                    None => WatchArg::Default,
                    Some(value) => WatchArg::EveryMs(parse_interval(&value.to_string_lossy())?),
                });
            }
            Long("count") => {
                let value = text_value(&mut parser, "--count")?;
                let count = value.parse::<u64>().ok().filter(|n| *n > 0);
                parsed.count = Some(count.ok_or_else(|| {
                    UsageError(format!(
                        "invalid value '{value}' for --count: expected how many ticks, 1 or more"
                    ))
                })?);
            }
            Long("backend") => {
                backend_given = true;
                parsed.backend = match text_value(&mut parser, "--backend")?.as_str() {
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
    if parsed.watch.is_some() {
        check_watch(&parsed, states.is_some() || all || listening)?;
    } else if parsed.count.is_some() {
        return Err(UsageError(
            "--count counts the ticks of --watch: add --watch".into(),
        ));
    }
    // As ss: listening sockets are TCP's LISTEN and UDP's UNCONN (the
    // kernel's CLOSE, a state no other dumped socket is in but a
    // bound-only TCP socket of a recording).
    let listening_states = StateSet::LISTENING;
    parsed.states = match (states, all, listening) {
        (Some(_), true, _) | (Some(_), _, true) | (None, true, true) => {
            return Err(UsageError(
                "use only one of --state, -a/--all and -l/--listening".into(),
            ))
        }
        (Some(states), false, false) => states,
        (None, true, false) => StateSet::ALL,
        (None, false, true) => listening_states,
        (None, false, false) => StateSet(StateSet::ALL.0 & !listening_states.0),
    };
    if parsed.ports && parsed.summary {
        return Err(UsageError(
            "--ports is a view of its own: use it without --summary or --by".into(),
        ));
    }
    if parsed.replay.is_some() {
        let collecting = [
            ("--proc", parsed.proc_dir.is_some()),
            ("--root", parsed.root.is_some()),
            ("--backend", backend_given),
            ("--record", parsed.record.is_some()),
            ("--kube", parsed.kube),
        ];
        if let Some((flag, _)) = collecting.iter().find(|(_, given)| *given) {
            return Err(UsageError(format!(
                "{flag} reads or records a live node, and --replay reads a recording instead: use one"
            )));
        }
    }
    Ok(Mode::Run(Box::new(parsed)))
}

/// What `--watch` cannot be combined with.
fn check_watch(args: &Args, states_given: bool) -> Result<(), UsageError> {
    let refused = [
        (
            states_given,
            "--state, -a and -l: its rows count connections in every state",
        ),
        (
            args.timers,
            "-o: its rows are connections per second, not sockets",
        ),
        (
            args.kube,
            "--kube or --kubeconfig: its rows name no remote end",
        ),
        (args.udp, "-u: it counts TCP connections"),
        (
            args.by
                .as_ref()
                .is_some_and(|keys| keys.contains(&Key::State)),
            "--by state: a row counts connections in every state",
        ),
        (
            args.replay.is_some() && matches!(args.watch, Some(WatchArg::EveryMs(_))),
            "--replay with SECONDS: a replay keeps the recording's ticks; use --watch alone",
        ),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, why)) => Err(UsageError(format!("--watch does not take {why}"))),
        None => Ok(()),
    }
}

/// SECONDS of `--watch`: digits, and at most three decimals.
fn is_seconds(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() <= 3
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The interval in milliseconds, from 0.1 s to an hour.
fn parse_interval(text: &str) -> Result<u64, UsageError> {
    let bad = || {
        UsageError(format!(
            "invalid value '{text}' for --watch: expected seconds between ticks, 0.1 to 3600"
        ))
    };
    if !is_seconds(text) {
        return Err(bad());
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = format!("{fraction:0<3}").parse().map_err(|_| bad())?;
    let ms = whole
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(fraction))
        .ok_or_else(bad)?;
    if (100..=3_600_000).contains(&ms) {
        Ok(ms)
    } else {
        Err(bad())
    }
}

fn text_value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    parser
        .value()?
        .into_string()
        .map_err(|raw| UsageError(format!("invalid UTF-8 in the value of {flag}: {raw:?}")))
}

fn parsed_value<T: std::str::FromStr<Err = BadEndpoint>>(
    parser: &mut lexopt::Parser,
    flag: &str,
) -> Result<T, UsageError> {
    text_value(parser, flag)?
        .parse()
        .map_err(|err| UsageError(format!("invalid value for {flag}: {err}")))
}

fn parse_keys(list: &str) -> Result<Vec<Key>, UsageError> {
    let mut keys = Vec::new();
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let key = Key::ALL
            .into_iter()
            .find(|k| k.name() == word)
            .ok_or_else(|| {
                let known: Vec<&str> = Key::ALL.iter().map(|k| k.name()).collect();
                UsageError(format!(
                    "unknown key '{word}' in --by: expected {}",
                    known.join(", ")
                ))
            })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(UsageError("--by needs at least one key".into()));
    }
    Ok(keys)
}

/// ss's state groups (ss(8), STATE-FILTER).
fn state_group(word: &str) -> Option<u32> {
    use TcpState::*;
    let bits = |states: &[TcpState]| states.iter().fold(0, |bits, s| bits | s.bit());
    let bucket = bits(&[TimeWait, SynRecv, NewSynRecv]);
    let connected = StateSet::ALL.0 & !bits(&[Listen, Close]);
    match word {
        "all" => Some(StateSet::ALL.0),
        "connected" => Some(connected),
        "synchronized" => Some(connected & !SynSent.bit()),
        "bucket" => Some(bucket),
        "big" => Some(StateSet::ALL.0 & !bucket),
        _ => None,
    }
}

/// Accepts the kernel's names (TIME_WAIT) and ss's (time-wait), any case,
/// and ss's groups of states. UNCONN, ss's name for an unconnected UDP
/// socket (`unconnected` in its filters), is the kernel's CLOSE.
pub fn parse_states(list: &str) -> Result<StateSet, UsageError> {
    let mut set = StateSet(0);
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let lower = word.to_ascii_lowercase();
        if let Some(group) = state_group(&lower) {
            set.0 |= group;
            continue;
        }
        if matches!(lower.as_str(), "unconn" | "unconnected") {
            set.0 |= TcpState::Close.bit();
            continue;
        }
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
                    "unknown state '{word}' in --state (try time-wait, established, listen, \
                     unconn, connected, …)"
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

    fn run(args: &[&str]) -> Result<Args, UsageError> {
        match parse(args.iter().copied())? {
            Mode::Run(config) => Ok(*config),
            other => panic!("expected a run, got {other:?}"),
        }
    }

    #[test]
    fn default_is_every_state_but_listen_as_a_table() {
        let config = run(&[]).unwrap();
        assert!(!config.states.contains(TcpState::Listen));
        // UDP's UNCONN is a listening state too.
        assert!(!config.states.contains(TcpState::Close));
        assert_eq!(
            (config.tcp, config.udp),
            (false, false),
            "config.rs picks the protocols"
        );
        assert!(config.states.contains(TcpState::TimeWait));
        assert!(config.states.contains(TcpState::Established));
        assert_eq!(config.format, Format::Table);
        assert_eq!(config.proc_dir, None);
        assert_eq!(config.root, None);
        assert_eq!((config.record, config.replay), (None, None));
        assert_eq!(config.backend, Backend::Auto);
    }

    #[test]
    fn all_and_listening() {
        assert_eq!(run(&["-a"]).unwrap().states, StateSet::ALL);
        assert_eq!(
            run(&["--listening"]).unwrap().states.0,
            TcpState::Listen.bit() | TcpState::Close.bit()
        );
        assert!(run(&["-a", "-l"]).is_err());
    }

    #[test]
    fn tcp_and_udp_flags_combine_as_ss_s() {
        let both = run(&["-tua"]).unwrap();
        assert_eq!(
            (both.tcp, both.udp, both.states),
            (true, true, StateSet::ALL)
        );
        let udp = run(&["--udp"]).unwrap();
        assert_eq!((udp.tcp, udp.udp), (false, true));
        assert_eq!(
            udp.states.0,
            StateSet::ALL.0 & !(TcpState::Listen.bit() | TcpState::Close.bit())
        );
        let tcp = run(&["-t"]).unwrap();
        assert_eq!((tcp.tcp, tcp.udp), (true, false));
        for spelling in ["unconn", "UNCONN", "unconnected", "close"] {
            assert_eq!(
                run(&["-u", "--state", spelling]).unwrap().states.0,
                TcpState::Close.bit(),
                "{spelling}"
            );
        }
        let err = run(&["--state", "unconected"]).unwrap_err().to_string();
        assert!(err.contains("unknown state 'unconected'"), "{err}");
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
        assert_eq!(config.proc_dir, Some(PathBuf::from("/tmp/p")));
        assert_eq!(config.root, Some(PathBuf::from("/host")));
        assert_eq!(config.backend, Backend::Proc);
    }

    #[test]
    fn record_and_replay_take_a_file_or_a_dash() {
        let config = run(&["--record", "node.json"]).unwrap();
        assert_eq!(config.record, Some(FileArg::Path("node.json".into())));
        assert_eq!(run(&["--record", "-"]).unwrap().record, Some(FileArg::Std));
        let config = run(&["--replay=node.json", "--summary", "--pod", "x"]).unwrap();
        assert_eq!(config.replay, Some(FileArg::Path("node.json".into())));
        assert_eq!(run(&["--replay", "-"]).unwrap().replay, Some(FileArg::Std));
        for flag in [
            &["--proc", "/p"][..],
            &["--root", "/"],
            &["--backend", "proc"],
            &["--record", "x"],
        ] {
            let mut args = vec!["--replay", "node.json"];
            args.extend(flag);
            let err = run(&args).unwrap_err().to_string();
            assert!(err.contains(flag[0]) && err.contains("--replay"), "{err}");
        }
        assert!(run(&["--replay"]).is_err());
    }

    #[test]
    fn ss_state_groups() {
        use TcpState::*;
        let states = |list| run(&["--state", list]).unwrap().states;
        assert_eq!(states("all"), StateSet::ALL);
        let connected = states("connected");
        assert!(!connected.contains(Listen) && !connected.contains(Close));
        assert!(connected.contains(SynSent) && connected.contains(TimeWait));
        let synchronized = states("synchronized");
        assert!(!synchronized.contains(SynSent) && synchronized.contains(Established));
        assert_eq!(
            states("bucket").0,
            TimeWait.bit() | SynRecv.bit() | NewSynRecv.bit()
        );
        assert_eq!(states("big").0 | states("bucket").0, StateSet::ALL.0);
        assert_eq!(states("bucket,listen").0, states("bucket").0 | Listen.bit());
    }

    #[test]
    fn by_keys_endpoints_port_and_timers() {
        let args = run(&[
            "--by",
            "pod,remote",
            "--remote",
            "10.0.0.5:443",
            "--local",
            ":8080",
            "--port",
            "53",
            "-o",
        ])
        .unwrap();
        assert_eq!(args.by, Some(vec![Key::Pod, Key::Remote]));
        assert!(args.summary, "--by implies --summary");
        assert_eq!(args.remote, Some("10.0.0.5:443".parse().unwrap()));
        assert_eq!(args.local, Some(":8080".parse().unwrap()));
        assert_eq!((args.port, args.timers), (Some(53), true));
        for (list, needle) in [
            (
                &["--by", "pods"][..],
                "unknown key 'pods' in --by: expected netns, namespace",
            ),
            (&["--by", ","], "at least one key"),
            (
                &["--remote", "10.0.0.999"],
                "invalid value for --remote: '10.0.0.999': not an IP address",
            ),
            (&["--port", "65536"], "expected a port, 0 to 65535"),
            (
                &["--top", "-1"],
                "invalid value '-1' for --top: expected how many rows or groups to keep, 0 or more",
            ),
        ] {
            let err = run(list).unwrap_err().to_string();
            assert!(err.contains(needle), "{list:?}: {err}");
        }
    }

    #[test]
    fn ports_and_snat_ports() {
        let args = run(&["--ports"]).unwrap();
        assert!(args.ports && args.snat_ports.is_none());
        let args = run(&["--snat-ports", "1024"]).unwrap();
        assert!(args.ports, "--snat-ports implies --ports");
        assert_eq!(args.snat_ports, Some(1024));
        for (list, needle) in [
            (
                &["--snat-ports", "0"][..],
                "expected a number of ports, 1 to 65536",
            ),
            (&["--snat-ports", "many"], "expected a number of ports"),
            (&["--ports", "--summary"], "--ports is a view of its own"),
            (&["--ports", "--by", "pod"], "--ports is a view of its own"),
        ] {
            let err = run(list).unwrap_err().to_string();
            assert!(err.contains(needle), "{list:?}: {err}");
        }
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
    fn watch_takes_optional_seconds_and_a_count() {
        assert_eq!(run(&[]).unwrap().watch, None);
        assert_eq!(run(&["--watch"]).unwrap().watch, Some(WatchArg::Default));
        assert_eq!(WatchArg::Default.every_ms(), 2_000);
        assert_eq!(
            run(&["--watch", "1"]).unwrap().watch,
            Some(WatchArg::EveryMs(1_000))
        );
        assert_eq!(
            run(&["--watch=0.5"]).unwrap().watch,
            Some(WatchArg::EveryMs(500))
        );
        assert_eq!(
            run(&["--watch", "2.25", "--count", "3"]).unwrap().count,
            Some(3)
        );
        // A bare --watch before another flag, or before a word that is not
        // seconds, takes the default.
        let args = run(&["--watch", "--ports"]).unwrap();
        assert_eq!((args.watch, args.ports), (Some(WatchArg::Default), true));
        assert!(run(&["--watch", "soon"])
            .unwrap_err()
            .to_string()
            .contains("soon"));
        for (list, needle) in [
            (
                &["--watch=0.05"][..],
                "expected seconds between ticks, 0.1 to 3600",
            ),
            (&["--watch=3601"], "0.1 to 3600"),
            (&["--watch=1.2345"], "0.1 to 3600"),
            (&["--watch=-1"], "0.1 to 3600"),
            (
                &["--count", "2"],
                "--count counts the ticks of --watch: add --watch",
            ),
            (
                &["--watch", "--count", "0"],
                "expected how many ticks, 1 or more",
            ),
            (
                &["--watch", "-a"],
                "--watch does not take --state, -a and -l",
            ),
            (
                &["--watch", "--state", "established"],
                "--watch does not take --state",
            ),
            (&["--watch", "-o"], "--watch does not take -o"),
            (&["--watch", "--kube"], "--watch does not take --kube"),
            (&["--watch", "-u"], "--watch does not take -u"),
            (
                &["--watch", "--by", "pod,state"],
                "--watch does not take --by state",
            ),
            (
                &["--watch", "5", "--replay", "x"],
                "--watch does not take --replay with SECONDS",
            ),
        ] {
            let err = run(list).unwrap_err().to_string();
            assert!(err.contains(needle), "{list:?}: {err}");
        }
        let replay = run(&["--replay", "x", "--watch", "--format", "json"]).unwrap();
        assert_eq!(replay.watch, Some(WatchArg::Default));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["-h"]).unwrap(), Mode::Help);
        assert_eq!(parse(["--version"]).unwrap(), Mode::Version);
    }
}
