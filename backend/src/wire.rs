//! Bytes on the wire for the transport lab, as the kernel counts them; and the listener that
//! admits connections within the caps.
//!
//! Nothing is counted in user space: TCP already counts every byte a socket receives and sends
//! (`TCP_INFO`). When a lab request arrives, [`Metered::attach`] attaches the lab lane's
//! [`LaneMeter`] to its socket (by file descriptor), noting the kernel's counts at that moment;
//! what the kernel counted since is added to the meter when the lab reads its meters, when the
//! next request begins on that socket (a poll's answer is then whole: the client has asked again)
//! and when the socket closes. Outside lab runs nothing is attached, and each of these hooks costs
//! one atomic load: the sockets carry no wrapper that counts, no state per connection.
//!
//! A lab request's head is the one thing measured from the request itself ([`head_bytes`]): when
//! a handler sees it, the kernel's count of bytes received also holds the requests before it on
//! the same connection. The measure is exact for clients that write one space after each
//! header's colon, as browsers, curl and reqwest do.
//!
//! HTTP/1.1 serves one request at a time per connection, which is what makes the split exact. An
//! HTTP/2 connection multiplexes requests; browsers speak it only over TLS, which this server
//! does not terminate, so its counts would mix requests (the lab says it counts HTTP/1.1).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::http::Request;
use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::limits::{Admission, Slot};

/// Totals for one lane of the lab, shared by every connection attributed to it.
#[derive(Debug, Default)]
pub struct LaneMeter {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub requests: AtomicU64,
}

/// The peer of a connection and its socket, as connect info on every request.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The connection's file descriptor: valid while one of its requests is being handled.
    pub socket: RawFd,
}

/// What the kernel has counted on one TCP socket: payload bytes, not TCP/IP headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    received: u64,
    /// Written by the server: sent once, or still waiting to be sent.
    written: u64,
}

impl Counters {
    /// The kernel's counts for the TCP socket `socket`.
    #[cfg(target_os = "linux")]
    fn of(socket: RawFd) -> io::Result<Self> {
        let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `info` is writable for `len` bytes and `len` is a valid `socklen_t`; the kernel
        // writes at most `len` bytes to `info` and stores in `len` how many it wrote.
        let status = unsafe {
            libc::getsockopt(
                socket,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if status != 0 {
            return Err(io::Error::last_os_error());
        }
        if (len as usize) < std::mem::offset_of!(libc::tcp_info, tcpi_dsack_dups) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel's TCP_INFO has no byte counts (Linux 4.19 or later has)",
            ));
        }
        // SAFETY: zeroed, then written in part by the kernel; every field is an integer.
        let info = unsafe { info.assume_init() };
        Ok(Self {
            received: info.tcpi_bytes_received,
            // Sent includes what was sent again; what waits to be sent has not been yet.
            written: info.tcpi_bytes_sent.saturating_sub(info.tcpi_bytes_retrans)
                + u64::from(info.tcpi_notsent_bytes),
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn of(_socket: RawFd) -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the lab counts bytes with Linux's TCP_INFO",
        ))
    }
}

/// The size of `request`'s head as its client wrote it: request line, headers, blank line.
pub fn head_bytes<B>(request: &Request<B>) -> u64 {
    const CRLF: usize = 2;
    let uri = request.uri();
    let target = match uri.path_and_query() {
        Some(path) if uri.scheme().is_none() => path.as_str().len(),
        _ => uri.to_string().len(),
    };
    let line = request.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len() + CRLF;
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + CRLF)
        .sum();
    (line + headers + CRLF) as u64
}

/// Sockets whose bytes go to a lab lane's meter, by file descriptor.
#[derive(Debug, Default)]
pub struct Metered {
    sockets: Mutex<HashMap<RawFd, Attached>>,
    /// Whether `sockets` has any: what every request and every closing socket looks at.
    any: AtomicBool,
}

#[derive(Debug)]
struct Attached {
    meter: Arc<LaneMeter>,
    /// One long exchange (WebSocket, event stream): what the socket receives counts too, not
    /// only what it sends.
    streaming: bool,
    /// The kernel's counts when last added to the meter.
    counted: Counters,
}

impl Attached {
    /// Adds what the kernel counted since the last time.
    fn settle(&mut self, socket: RawFd) {
        let now = match Counters::of(socket) {
            Ok(now) => now,
            Err(error) => {
                tracing::debug!(%error, "the lab could not read a socket's byte counts");
                return;
            }
        };
        if self.streaming {
            let received = now.received.saturating_sub(self.counted.received);
            self.meter.bytes_in.fetch_add(received, Ordering::Relaxed);
        }
        let written = now.written.saturating_sub(self.counted.written);
        self.meter.bytes_out.fetch_add(written, Ordering::Relaxed);
        self.counted = now;
    }
}

impl Metered {
    /// Counts a lab request of `head` bytes in `meter`, and attaches `meter` to its `socket`:
    /// everything written from now on, and for a `streaming` exchange everything read.
    pub fn attach(&self, socket: RawFd, meter: Arc<LaneMeter>, streaming: bool, head: u64) {
        meter.requests.fetch_add(1, Ordering::Relaxed);
        meter.bytes_in.fetch_add(head, Ordering::Relaxed);
        let counted = match Counters::of(socket) {
            Ok(counted) => counted,
            Err(error) => {
                tracing::debug!(%error, "the lab counts this request but not its bytes");
                return;
            }
        };
        let mut sockets = self.sockets();
        sockets.insert(
            socket,
            Attached {
                meter,
                streaming,
                counted,
            },
        );
        self.any.store(true, Ordering::Release);
    }

    /// A request begins on `socket`: the exchange attached to it, if any, is over.
    pub fn request_began(&self, socket: RawFd) {
        self.detach(socket);
    }

    /// Brings `meters` up to date with the kernel's counts of the sockets they are attached to.
    pub fn settle(&self, meters: &[Arc<LaneMeter>]) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        for (socket, attached) in self.sockets().iter_mut() {
            if meters
                .iter()
                .any(|meter| Arc::ptr_eq(meter, &attached.meter))
            {
                attached.settle(*socket);
            }
        }
    }

    /// Settles and forgets `socket`'s attachment, if it has one.
    fn detach(&self, socket: RawFd) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut sockets = self.sockets();
        if let Some(mut attached) = sockets.remove(&socket) {
            attached.settle(socket);
            self.any.store(!sockets.is_empty(), Ordering::Release);
        }
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<RawFd, Attached>> {
        // Only whole entries are inserted or removed, and counts only grow: a poisoned map is
        // still consistent.
        self.sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A TCP listener whose connections are admitted within the connection caps (a connection over
/// them is closed at once).
pub struct AdmittingListener {
    pub listener: TcpListener,
    pub admission: Admission,
    /// The lab's attachments, told when a socket closes.
    pub metered: Arc<Metered>,
}

impl Listener for AdmittingListener {
    type Io = AdmittedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = Listener::accept(&mut self.listener).await;
            match self.admission.admit(addr.ip()) {
                Ok(slot) => {
                    let stream = AdmittedStream {
                        io,
                        _slot: slot,
                        metered: self.metered.clone(),
                    };
                    return (stream, addr);
                }
                Err(refusal) => {
                    tracing::debug!(%addr, ?refusal, "connection refused: over the connection caps");
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// An admitted TCP stream: holds its place under the caps, and settles the lab's count of its
/// bytes before it closes.
pub struct AdmittedStream {
    io: TcpStream,
    /// The connection's place under the caps, freed when the socket closes (also after an
    /// upgrade to WebSocket, which takes the stream along).
    _slot: Slot,
    metered: Arc<Metered>,
}

impl AdmittedStream {
    /// The socket's file descriptor.
    pub fn socket(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl Drop for AdmittedStream {
    fn drop(&mut self) {
        // Before the descriptor closes (the fields drop after this), so the counts are whole and
        // the descriptor cannot yet name another socket.
        self.metered.detach(self.io.as_raw_fd());
    }
}

impl AsyncRead for AdmittedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for AdmittedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connected pair on loopback: (the server's end, the client's end).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    fn totals(meter: &LaneMeter) -> (u64, u64, u64) {
        (
            meter.bytes_in.load(Ordering::Relaxed),
            meter.bytes_out.load(Ordering::Relaxed),
            meter.requests.load(Ordering::Relaxed),
        )
    }

    #[tokio::test]
    async fn the_kernel_counts_what_a_socket_wrote_and_received() {
        let (mut server, mut client) = pair().await;
        client.write_all(&[7; 300]).await.unwrap();
        server.read_exact(&mut [0; 300]).await.unwrap();
        server.write_all(&[1; 1000]).await.unwrap();

        let counted = Counters::of(server.as_raw_fd()).unwrap();
        assert_eq!(
            counted,
            Counters {
                received: 300,
                written: 1000
            }
        );
    }

    #[tokio::test]
    async fn a_poll_s_meter_takes_its_answer_and_stops_at_the_next_request() {
        let (mut server, mut client) = pair().await;
        let metered = Metered::default();
        let meter = Arc::new(LaneMeter::default());
        server.write_all(&[0; 40]).await.unwrap(); // an earlier answer on the connection

        metered.attach(server.as_raw_fd(), meter.clone(), false, 50);
        server.write_all(&[0; 120]).await.unwrap();
        client.write_all(&[0; 30]).await.unwrap(); // the next request
        metered.request_began(server.as_raw_fd());
        server.write_all(&[0; 70]).await.unwrap();
        metered.settle(std::slice::from_ref(&meter));

        assert_eq!(totals(&meter), (50, 120, 1));
        assert!(!metered.any.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_stream_s_meter_counts_both_ways_as_the_lab_reads_it_and_until_its_socket_closes() {
        let (mut server, mut client) = pair().await;
        let metered = Metered::default();
        let meter = Arc::new(LaneMeter::default());
        let other = Arc::new(LaneMeter::default());

        metered.attach(server.as_raw_fd(), meter.clone(), true, 200);
        server.write_all(&[0; 90]).await.unwrap();
        client.write_all(&[0; 40]).await.unwrap();
        server.read_exact(&mut [0; 40]).await.unwrap();
        metered.settle(std::slice::from_ref(&other));
        assert_eq!(totals(&meter), (200, 0, 1), "only the lanes asked for");
        metered.settle(std::slice::from_ref(&meter));
        assert_eq!(totals(&meter), (240, 90, 1));

        server.write_all(&[0; 10]).await.unwrap();
        metered.detach(server.as_raw_fd());
        assert_eq!(totals(&meter), (240, 100, 1));
        assert_eq!(totals(&other), (0, 0, 0));
    }

    #[test]
    fn a_head_is_measured_as_its_client_wrote_it() {
        let request = Request::get("/api/clock?lab=run-1")
            .header("Host", "127.0.0.1:8080")
            .header("User-Agent", "lab-test")
            .header("Accept", "*/*")
            .body(())
            .unwrap();
        let written = "GET /api/clock?lab=run-1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\
                       User-Agent: lab-test\r\nAccept: */*\r\n\r\n";
        assert_eq!(head_bytes(&request), written.len() as u64);
    }
}
