//! Who is on the other end of a loopback TCP connection: the portal serves only processes of
//! the user who started it (and root, who can read that user's files anyway).
//!
//! Cookies are not bound to a port, so another local user could run a server on another
//! port of 127.0.0.1, lure the browser there, and read the portal's cookie. The kernel says
//! who owns each TCP socket (`/proc/net/tcp`, the `uid` column), and for a loopback
//! connection the client's socket is on this host: [`UidListener`] drops every connection
//! whose client socket belongs to someone else, before any byte of it is read. A stolen
//! cookie is useless to another user.

use std::net::{SocketAddr, SocketAddrV4};

use tokio::net::{TcpListener, TcpStream};

/// The owner of the established loopback TCP socket whose local address is `client` and
/// whose peer is `server`, read from `/proc/net/tcp` text.
pub fn owner_in(table: &str, client: SocketAddrV4, server: SocketAddrV4) -> Option<u32> {
    let want_local = hex_addr(client);
    let want_remote = hex_addr(server);
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (local, remote, state, uid, inode) = (
            cols.get(1)?,
            cols.get(2)?,
            cols.get(3)?,
            cols.get(7)?,
            cols.get(9)?,
        );
        // Only a live socket counts: a client that sent its request and closed leaves a
        // time-wait entry the kernel shows as uid 0 with inode 0 (which would pass as root).
        (local.eq_ignore_ascii_case(&want_local)
            && remote.eq_ignore_ascii_case(&want_remote)
            && *state == "01"
            && *inode != "0")
            .then(|| uid.parse().ok())
            .flatten()
    })
}

/// An address as `/proc/net/tcp` prints it: the IPv4 address as a native-endian u32, then
/// the port, both in hex (`0100007F:1F90` for 127.0.0.1:8080 on x86).
fn hex_addr(addr: SocketAddrV4) -> String {
    format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(addr.ip().octets()),
        addr.port()
    )
}

/// The uid owning the client end of a connection accepted on `server`; `None` when the
/// kernel's table does not have it (the client already went away) or the address is not
/// IPv4.
pub fn owner(client: SocketAddr, server: SocketAddr) -> Option<u32> {
    let (SocketAddr::V4(client), SocketAddr::V4(server)) = (client, server) else {
        return None;
    };
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    owner_in(&table, client, server)
}

/// A TCP listener that hands on only the connections of allowed uids.
pub struct UidListener {
    inner: TcpListener,
    local: SocketAddr,
    allowed: Vec<u32>,
}

impl UidListener {
    /// Wraps `inner`, accepting clients owned by one of `allowed`.
    pub fn new(inner: TcpListener, allowed: Vec<u32>) -> std::io::Result<UidListener> {
        let local = inner.local_addr()?;
        Ok(UidListener {
            inner,
            local,
            allowed,
        })
    }
}

impl axum::serve::Listener for UidListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => match owner(addr, self.local) {
                    Some(uid) if self.allowed.contains(&uid) => return (stream, addr),
                    // Dropping the stream closes it: nothing is read or answered.
                    Some(uid) => {
                        eprintln!("jit-portal: refused a connection from uid {uid} ({addr})");
                    }
                    None => eprintln!("jit-portal: refused a connection of unknown owner ({addr})"),
                },
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(e) => {
                    eprintln!("jit-portal: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn finds_the_client_socket_and_its_owner() {
        let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 51234);
        let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080);
        let (c, s) = (hex_addr(client), hex_addr(server));
        let table = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: {s} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 1 1 0\n\
             1: {s} {c} 01 00000000:00000000 00:00000000 00000000  1001        0 2 1 0\n\
             2: {c} {s} 01 00000000:00000000 00:00000000 00000000  1002        0 3 1 0\n"
        );
        assert_eq!(owner_in(&table, client, server), Some(1002));
        // The same connection once its client closed: a time-wait entry, uid 0, inode 0.
        let closed = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             2: {c} {s} 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0\n"
        );
        assert_eq!(owner_in(&closed, client, server), None);
        let other = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 51235);
        assert_eq!(owner_in(&table, other, server), None);
    }

    #[test]
    fn a_real_loopback_connection_is_ours() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let server = listener.local_addr().expect("addr");
            let _client = TcpStream::connect(server).await.expect("connect");
            let (_accepted, addr) = listener.accept().await.expect("accept");
            assert_eq!(owner(addr, server), Some(nix::unistd::getuid().as_raw()));
        });
    }
}
