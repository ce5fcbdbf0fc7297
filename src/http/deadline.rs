//! Per-request deadlines: a request's body must arrive within the listener's request
//! deadline of its headers (the transfer deadline for attachment routes), and its answer
//! must leave within the same time of being ready. A body that is late fails; handlers
//! see [`RequestDeadline::passed`] and answer 408 `request_timeout`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::connections::RequestGuard;
use crate::problem::{Code, Problem};

/// When the request's body must have arrived (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub Instant);

impl RequestDeadline {
    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.0
    }

    /// The refusal for a body that did not arrive in time.
    pub fn problem(&self, timeout: Option<Duration>) -> Problem {
        let within = timeout.map_or_else(String::new, |d| format!(" within {} s", d.as_secs()));
        Problem::new(
            Code::RequestTimeout,
            format!(
                "the request body did not arrive{within}; nothing was kept: send it again, faster \
                 or in smaller parts"
            ),
        )
    }
}

/// Whether `path` is an attachment route, whose bodies get the transfer deadline.
pub fn is_transfer(path: &str) -> bool {
    path.starts_with("/v1/attachments/") || path.starts_with("/federation/v1/attachments/")
}

/// The error a late body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the body did not arrive before the request deadline")]
pub struct DeadlineExceeded;

/// A body that fails once its deadline passes, holding (for answers) the request's place
/// on its connection until it is sent or dropped.
pub struct DeadlineBody<B> {
    inner: B,
    sleep: Pin<Box<Sleep>>,
    _guard: Option<RequestGuard>,
}

impl<B> DeadlineBody<B> {
    /// `inner`, cut at `deadline`.
    pub fn new(inner: B, deadline: Instant, guard: Option<RequestGuard>) -> Self {
        DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            _guard: guard,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(DeadlineExceeded)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
