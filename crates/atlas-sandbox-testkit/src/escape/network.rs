//! Network (N): nothing listening on the host's loopback can be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Ctx, QUICK, RowResult, attempt_note, broke, req, short, verdict};
use crate::SandboxFactory;
use crate::host::{attempt, random_token};
use crate::report::Outcome;

impl<F: SandboxFactory> Ctx<'_, F> {
    /// N1: listeners on the host's 127.0.0.1, ::1 (TCP), 127.0.0.1 (UDP) and an abstract unix
    /// socket accept nothing.
    pub(super) async fn n1(&self) -> RowResult {
        if self.opts.network_allowed {
            return Ok(Outcome::Skipped(
                "the backend's config allows network".into(),
            ));
        }
        let listeners = Listeners::start()
            .await
            .map_err(|e| format!("cannot start the test listeners: {e}"))?;
        let (_root, sb) = self.open_fresh("n1").await?;
        let p = listeners.tcp4_port;
        let u = listeners.udp_port;
        let mut attacks: Vec<(&str, String)> = vec![
            (
                "tcp 127.0.0.1",
                format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{p}'"),
            ),
            ("tcp 127.0.0.1", format!("exec 3<>/dev/tcp/127.0.0.1/{p}")),
            (
                "tcp 127.0.0.1",
                format!("curl -s -m 3 http://127.0.0.1:{p}/"),
            ),
            ("tcp 127.0.0.1", format!("nc -z -w 2 127.0.0.1 {p}")),
            (
                "tcp 127.0.0.1",
                format!(
                    "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {p}), 3)'"
                ),
            ),
            (
                "tcp 127.0.0.1",
                format!(
                    "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(PeerAddr => \"127.0.0.1:{p}\", Timeout => 3) or exit 1'"
                ),
            ),
            (
                "udp 127.0.0.1",
                format!("bash -c 'echo x > /dev/udp/127.0.0.1/{u}'"),
            ),
            (
                "udp 127.0.0.1",
                format!(
                    "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"x\", (\"127.0.0.1\", {u}))'"
                ),
            ),
            (
                "abstract unix socket",
                format!(
                    "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"\\0{}\")'",
                    listeners.abstract_name
                ),
            ),
        ];
        if let Some(q) = listeners.tcp6_port {
            attacks.extend([
                ("tcp ::1", format!("bash -c 'exec 3<>/dev/tcp/::1/{q}'")),
                ("tcp ::1", format!("curl -s -m 3 'http://[::1]:{q}/'")),
                ("tcp ::1", format!("nc -6 -z -w 2 ::1 {q}")),
                (
                    "tcp ::1",
                    format!(
                        "python3 -c 'import socket; socket.create_connection((\"::1\", {q}), 3)'"
                    ),
                ),
            ]);
        }
        let mut reasons = Vec::new();
        let mut last = 0;
        for (target, command) in &attacks {
            let a = attempt(sb.as_ref(), req(command.as_str(), QUICK)).await;
            if broke(&a) {
                reasons.push(attempt_note(command, &a));
            }
            // Give the accept loops a moment to see a connection that did get through.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = listeners.total();
            if now > last {
                reasons.push(format!(
                    "`{}` reached the host's {target} listener",
                    short(command)
                ));
                last = now;
            }
        }
        let _ = sb.close().await;
        let has_v6 = listeners.tcp6_port.is_some();
        listeners.stop();
        Ok(verdict(&reasons, || {
            let six = if has_v6 { "" } else { " (no ::1 on this host)" };
            format!("{} attempts, nothing accepted{six}", attacks.len())
        }))
    }
}

/// Host listeners that count every connection or datagram they receive.
struct Listeners {
    tcp4_port: u16,
    tcp6_port: Option<u16>,
    udp_port: u16,
    abstract_name: String,
    count: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Listeners {
    async fn start() -> std::io::Result<Self> {
        let count = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let tcp4 = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let tcp4_port = tcp4.local_addr()?.port();
        tasks.push(accept_tcp(tcp4, count.clone()));
        let tcp6_port = match tokio::net::TcpListener::bind("[::1]:0").await {
            Ok(l) => {
                let port = l.local_addr()?.port();
                tasks.push(accept_tcp(l, count.clone()));
                Some(port)
            }
            Err(_) => None,
        };
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let udp_port = udp.local_addr()?.port();
        let c = count.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while udp.recv_from(&mut buf).await.is_ok() {
                c.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let abstract_name = format!("atlas-testkit-{}", random_token());
        {
            use std::os::linux::net::SocketAddrExt;
            let addr =
                std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())?;
            let std_listener = std::os::unix::net::UnixListener::bind_addr(&addr)?;
            std_listener.set_nonblocking(true)?;
            let listener = tokio::net::UnixListener::from_std(std_listener)?;
            let c = count.clone();
            tasks.push(tokio::spawn(async move {
                while listener.accept().await.is_ok() {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        Ok(Listeners {
            tcp4_port,
            tcp6_port,
            udp_port,
            abstract_name,
            count,
            tasks,
        })
    }

    fn total(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

fn accept_tcp(
    listener: tokio::net::TcpListener,
    count: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    })
}
