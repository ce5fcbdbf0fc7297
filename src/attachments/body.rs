//! A streamed HTTP request body: the bytes of a blob file, or any stream of chunks, sent
//! as they are read (never whole in memory), with their exact length when it is known.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Body, Frame, SizeHint};
use tokio::fs::File;
use tokio_util::io::ReaderStream;

/// Bytes read from a file per chunk.
pub const CHUNK: usize = 64 * 1024;

type Chunks = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

/// A request body streamed from a file or a stream of chunks.
pub struct StreamBody {
    chunks: Chunks,
    /// Bytes still to come, when the length is known.
    remaining: Option<u64>,
}

impl StreamBody {
    /// The `bytes` bytes of `file`, from where it is positioned.
    pub fn file(file: File, bytes: u64) -> Self {
        StreamBody {
            chunks: Box::pin(ReaderStream::with_capacity(file, CHUNK)),
            remaining: Some(bytes),
        }
    }

    /// The chunks of `stream`; `bytes`, if given, must be their total length.
    pub fn stream<S>(stream: S, bytes: Option<u64>) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + Sync + 'static,
    {
        StreamBody {
            chunks: Box::pin(stream),
            remaining: bytes,
        }
    }

    /// As a reqwest body.
    pub fn into_reqwest(self) -> reqwest::Body {
        reqwest::Body::wrap(self)
    }
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        match this.chunks.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(left) = &mut this.remaining {
                    let len = chunk.len() as u64;
                    if len > *left {
                        return Poll::Ready(Some(Err(io::Error::other(
                            "the stream is longer than its stated length",
                        ))));
                    }
                    *left -= len;
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => match this.remaining {
                Some(left) if left > 0 => Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the stream ended {left} bytes short of its stated length"),
                )))),
                _ => Poll::Ready(None),
            },
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(left) => SizeHint::with_exact(left),
            None => SizeHint::default(),
        }
    }
}
