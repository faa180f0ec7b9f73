//! Which way a connection goes, as seen from its socket: a socket on a
//! port its namespace listens on was accepted there (inbound: its remote
//! end is a client, whose ephemeral port says nothing); any other socket
//! was connected from here (outbound: its local port is the ephemeral one).

use std::collections::HashSet;

use crate::model::{NetnsId, Snapshot, Socket, TcpState};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Connected from here, to a service elsewhere: its remote end names it.
    Out,
    /// Accepted on a listening port here: its local end names the service.
    In,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// The ports each namespace listens on. IPv4 and IPv6 share TCP's port
/// space, so a port is one whatever the family of its listener.
pub struct Listening(HashSet<(NetnsId, u16)>);

impl Listening {
    /// Every snapshot holds its listeners, whatever states a view shows
    /// (config.rs asks for LISTEN always), so this never depends on the view.
    pub fn of(snapshot: &Snapshot) -> Listening {
        Listening(
            snapshot
                .namespaces
                .iter()
                .flat_map(|ns| {
                    ns.sockets
                        .iter()
                        .filter(|s| s.state == TcpState::Listen)
                        .map(move |s| (ns.id, s.local_port))
                })
                .collect(),
        )
    }

    pub fn direction(&self, netns: NetnsId, socket: &Socket) -> Direction {
        if self.0.contains(&(netns, socket.local_port)) {
            Direction::In
        } else {
            Direction::Out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing;

    #[test]
    fn accepted_sockets_are_inbound_and_the_rest_outbound() {
        let listener = testing::socket("[::]:8080", "[::]:0", TcpState::Listen, 1);
        let accepted = testing::socket(
            "[::ffff:10.0.0.5]:8080",
            "[::ffff:10.0.0.9]:40000",
            TcpState::Established,
            2,
        );
        let client = testing::socket("10.0.0.5:40001", "10.0.0.9:8080", TcpState::TimeWait, 0);
        let server_closed_first =
            testing::socket("10.0.0.5:8080", "10.0.0.7:50000", TcpState::TimeWait, 0);
        let mut snapshot = testing::snapshot();
        snapshot.namespaces.push(testing::netns(
            7,
            vec![listener, accepted, client, server_closed_first],
        ));
        // Another namespace listening on 40001 changes nothing here.
        snapshot.namespaces.push(testing::netns(
            8,
            vec![testing::socket(
                "0.0.0.0:40001",
                "0.0.0.0:0",
                TcpState::Listen,
                3,
            )],
        ));
        let listening = Listening::of(&snapshot);
        let here = NetnsId::Inode(7);
        assert_eq!(listening.direction(here, &listener), Direction::In);
        assert_eq!(listening.direction(here, &accepted), Direction::In);
        assert_eq!(listening.direction(here, &client), Direction::Out);
        assert_eq!(
            listening.direction(here, &server_closed_first),
            Direction::In
        );
    }
}
