//! Lingering close: a refusal must reach a client that is still sending its body.
//!
//! A handler may answer before it reads the body (a JSON body with the wrong
//! `Content-Type`, an upload over a quota, a body over the limit). hyper then drains only
//! what has already arrived and closes the connection; closing a socket with unread data
//! makes the kernel send a TCP reset, which can reach the client before it reads the
//! answer: it sees "connection reset" (or a TLS EOF) instead of the problem document
//! (found by schemathesis; with a 100 kB body it happened on most attempts).
//!
//! [`Linger`] wraps each connection's stream: on shutdown it first stops writing (TLS
//! close_notify, TCP FIN), then reads and discards what the client still sends, until the
//! client closes too, [`LINGER_BYTES`] have been read, or [`LINGER_TIME`] has passed, and
//! only then lets the socket close. (nginx calls this `lingering_close`.) A large upload
//! refused before it is read still ends in a reset past those bounds; clients that send
//! `Expect: 100-continue` never send such a body at all.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a closing connection keeps reading what the client still sends.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// How much it reads (and discards) at most: a little over the largest JSON body.
pub const LINGER_BYTES: u64 = 5 * 1024 * 1024;

/// A stream that lingers on shutdown (see the module docs).
pub struct Linger<S> {
    inner: S,
    state: State,
}

enum State {
    Open,
    Draining { until: Pin<Box<Sleep>>, left: u64 },
    Closed,
}

impl<S> Linger<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Linger {
            inner,
            state: State::Open,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Linger<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Linger<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {
                    ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                    this.state = State::Draining {
                        until: Box::pin(tokio::time::sleep(LINGER_TIME)),
                        left: LINGER_BYTES,
                    };
                }
                State::Draining { until, left } => {
                    if until.as_mut().poll(cx).is_ready() {
                        this.state = State::Closed;
                        continue;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                        Ok(()) if !buf.filled().is_empty() => {
                            *left = left.saturating_sub(buf.filled().len() as u64);
                            if *left == 0 {
                                this.state = State::Closed;
                            }
                        }
                        // The client closed too, or the connection failed: done.
                        _ => this.state = State::Closed,
                    }
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}
