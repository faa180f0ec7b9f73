//! Which way a connection goes, as seen from its socket: a socket on a
//! port its namespace listens on was accepted there (inbound: its remote
//! end is a client, whose ephemeral port says nothing); any other socket
//! was connected from here (outbound: its local port is the ephemeral one).
//! For UDP, an unconnected socket is the listener: a UDP socket on a port
//! its namespace has an unconnected socket on is inbound (a server's
//! socket, or one it connected to a client from its own port), any other
//! outbound.

use std::collections::HashSet;

use crate::model::{NetnsId, Snapshot, Socket, Transport};

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

/// The ports each namespace listens on, per transport: TCP and UDP are
/// separate port spaces, and IPv4 and IPv6 share each, so a port is one
/// whatever the family of its listener.
pub struct Listening(HashSet<(NetnsId, Transport, u16)>);

impl Listening {
    /// Every snapshot holds its listening sockets, whatever states a view
    /// shows (config.rs asks for LISTEN and UNCONN always), so this never
    /// depends on the view.
    pub fn of(snapshot: &Snapshot) -> Listening {
        Listening(
            snapshot
                .namespaces
                .iter()
                .flat_map(|ns| {
                    ns.sockets
                        .iter()
                        .filter(|s| s.listens())
                        .map(move |s| (ns.id, s.proto.transport(), s.local_port))
                })
                .collect(),
        )
    }

    pub fn direction(&self, netns: NetnsId, socket: &Socket) -> Direction {
        if self
            .0
            .contains(&(netns, socket.proto.transport(), socket.local_port))
        {
            Direction::In
        } else {
            Direction::Out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, TcpState};

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

    #[test]
    fn udp_and_tcp_are_separate_port_spaces() {
        let dns = testing::udp_socket("0.0.0.0:53", "0.0.0.0:0", TcpState::Close, 1);
        // A server's socket connected to one client from its own port.
        let per_client =
            testing::udp_socket("10.0.0.5:53", "10.0.0.9:40000", TcpState::Established, 2);
        // A resolver's query from a fresh port, and one from the port a TCP
        // listener of the namespace holds.
        let query = testing::udp_socket("10.0.0.5:41000", "10.0.0.10:53", TcpState::Established, 3);
        let on_tcp_port =
            testing::udp_socket("10.0.0.5:8080", "10.0.0.10:53", TcpState::Established, 4);
        let tcp_listener = testing::socket("0.0.0.0:8080", "0.0.0.0:0", TcpState::Listen, 5);
        // TCP on the port the UDP server holds: connected from here.
        let tcp_client = testing::socket("10.0.0.5:53", "10.0.0.11:443", TcpState::Established, 6);
        // A dual-stack UDP socket makes IPv4 sockets on its port inbound.
        let dual = testing::udp_socket("[::]:5353", "[::]:0", TcpState::Close, 7);
        let mdns_peer =
            testing::udp_socket("10.0.0.5:5353", "10.0.0.12:5353", TcpState::Established, 8);
        let sockets = vec![
            dns,
            per_client,
            query,
            on_tcp_port,
            tcp_listener,
            tcp_client,
            dual,
            mdns_peer,
        ];
        let mut snapshot = testing::snapshot();
        snapshot.namespaces.push(testing::netns(7, sockets.clone()));
        let listening = Listening::of(&snapshot);
        let directions: Vec<Direction> = sockets
            .iter()
            .map(|s| listening.direction(NetnsId::Inode(7), s))
            .collect();
        use Direction::{In, Out};
        assert_eq!(directions, [In, In, Out, Out, In, Out, In, In]);
    }
}
