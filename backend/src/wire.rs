//! Bytes on the wire, counted per TCP connection, so the transport lab can say exactly what each
//! transport costs: HTTP heads included, WebSocket frame headers included.
//!
//! [`CountingListener`] wraps every accepted socket in a [`CountingStream`]. Each connection's
//! [`Wire`] reaches handlers through [`track_requests`], which marks where one HTTP/1.1 request
//! ends and the next begins. A handler that wants its connection's bytes calls [`Wire::attribute`]
//! with a [`LaneMeter`]: the bytes of the request so far, and everything written from then on
//! (the response, or a whole WebSocket or event stream), are added to that meter.
//!
//! HTTP/1.1 serves one request at a time per connection, which is what makes the split exact. An
//! HTTP/2 connection multiplexes requests; browsers speak it only over TLS, which this server
//! does not terminate, so its counts would mix requests (the lab says it counts HTTP/1.1).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::extract::connect_info::ConnectInfo;
use axum::middleware::Next;
use axum::response::Response;
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

/// One connection's accounting.
#[derive(Debug, Default)]
pub struct Wire {
    /// Bytes read since the previous request's handler finished: the current request's head and
    /// body, until a handler attributes them.
    unattributed_in: AtomicU64,
    /// Where written bytes go (and read bytes, while `streaming`).
    lane: Mutex<Option<Arc<LaneMeter>>>,
    /// Whether `lane` is set: lets the many connections outside the lab skip the lock.
    attributed: AtomicBool,
    /// The connection carries one long exchange (WebSocket, event stream): everything read belongs
    /// to the lane too.
    streaming: AtomicBool,
}

impl Wire {
    /// Adds this request's bytes so far, and all that follows on the connection until the next
    /// request, to `meter`. `streaming` also adds what is read later (WebSocket frames).
    pub fn attribute(&self, meter: Arc<LaneMeter>, streaming: bool) {
        let read = self.unattributed_in.swap(0, Ordering::Relaxed);
        meter.bytes_in.fetch_add(read, Ordering::Relaxed);
        meter.requests.fetch_add(1, Ordering::Relaxed);
        self.streaming.store(streaming, Ordering::Relaxed);
        *self.lane() = Some(meter);
        self.attributed.store(true, Ordering::Relaxed);
    }

    fn read(&self, bytes: usize) {
        let bytes = bytes as u64;
        if self.streaming.load(Ordering::Relaxed)
            && let Some(lane) = self.lane().as_ref()
        {
            lane.bytes_in.fetch_add(bytes, Ordering::Relaxed);
            return;
        }
        self.unattributed_in.fetch_add(bytes, Ordering::Relaxed);
    }

    fn wrote(&self, bytes: usize) {
        if !self.attributed.load(Ordering::Relaxed) {
            return;
        }
        if let Some(lane) = self.lane().as_ref() {
            lane.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    fn begin_request(&self) {
        self.streaming.store(false, Ordering::Relaxed);
        if self.attributed.swap(false, Ordering::Relaxed) {
            *self.lane() = None;
        }
    }

    /// The request's handler has answered: bytes read from now on belong to the next request.
    fn end_request(&self) {
        self.unattributed_in.store(0, Ordering::Relaxed);
    }

    fn lane(&self) -> std::sync::MutexGuard<'_, Option<Arc<LaneMeter>>> {
        // The guarded value is a plain Option: a panic elsewhere cannot leave it half-written.
        self.lane
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The connection's [`Wire`] and its peer's address, as connect info and as a request extension.
#[derive(Debug, Clone)]
pub struct ConnectionWire(pub Arc<Wire>, pub SocketAddr);

/// A TCP listener whose connections count their bytes, admitted within the connection caps (a
/// connection over them is closed at once).
pub struct CountingListener {
    pub listener: TcpListener,
    pub admission: Admission,
}

impl Listener for CountingListener {
    type Io = CountingStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = Listener::accept(&mut self.listener).await;
            match self.admission.admit(addr.ip()) {
                Ok(slot) => {
                    let stream = CountingStream {
                        io,
                        wire: Arc::default(),
                        _slot: slot,
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

/// A TCP stream that reports every byte read and written to its [`Wire`].
pub struct CountingStream {
    io: TcpStream,
    pub(crate) wire: Arc<Wire>,
    /// The connection's place under the caps, freed when the socket closes (also after an
    /// upgrade to WebSocket, which takes the stream along).
    _slot: Slot,
}

impl AsyncRead for CountingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.wire.read(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            self.wire.wrote(written);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = polled {
            self.wire.wrote(written);
        }
        polled
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

/// Middleware: marks request boundaries on the connection and hands its [`Wire`] to handlers as
/// an `Extension<ConnectionWire>` (absent when the app is driven without a counting listener).
pub async fn track_requests(mut request: Request, next: Next) -> Response {
    let Some(ConnectInfo(wire)) = request
        .extensions()
        .get::<ConnectInfo<ConnectionWire>>()
        .cloned()
    else {
        return next.run(request).await;
    };
    wire.0.begin_request();
    request.extensions_mut().insert(wire.clone());
    let response = next.run(request).await;
    wire.0.end_request();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(meter: &LaneMeter) -> (u64, u64, u64) {
        (
            meter.bytes_in.load(Ordering::Relaxed),
            meter.bytes_out.load(Ordering::Relaxed),
            meter.requests.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn an_attributed_request_takes_its_head_and_everything_written_after() {
        let wire = Wire::default();
        let meter = Arc::new(LaneMeter::default());
        wire.begin_request();
        wire.read(100);
        wire.attribute(meter.clone(), false);
        wire.end_request();
        wire.wrote(250);
        assert_eq!(totals(&meter), (100, 250, 1));
    }

    #[test]
    fn a_request_that_is_not_attributed_costs_the_lane_nothing() {
        let wire = Wire::default();
        let meter = Arc::new(LaneMeter::default());
        // A lab request, then an ordinary one on the same keep-alive connection.
        wire.begin_request();
        wire.read(10);
        wire.attribute(meter.clone(), false);
        wire.end_request();
        wire.wrote(20);
        wire.read(500);
        wire.begin_request();
        wire.end_request();
        wire.wrote(900);
        // And the lab again: only its own head counts.
        wire.read(30);
        wire.begin_request();
        wire.attribute(meter.clone(), false);
        assert_eq!(totals(&meter), (40, 20, 2));
    }

    #[test]
    fn a_streaming_connection_counts_what_it_reads_later() {
        let wire = Wire::default();
        let meter = Arc::new(LaneMeter::default());
        wire.begin_request();
        wire.read(300);
        wire.attribute(meter.clone(), true);
        wire.end_request();
        wire.wrote(129);
        wire.read(6);
        wire.wrote(4);
        assert_eq!(totals(&meter), (306, 133, 1));
    }
}
