//! A client still sending its body when its request is refused is not reset: the gateway
//! closes such a connection lingering (http/linger.rs), reading on for a while. It used
//! to close it with the body unread, and the kernel answers what arrives after that with
//! a reset: a client that writes its whole body before it reads (Python's `requests`)
//! then fails on a write and never reads the 400 (found by schemathesis, as a TLS EOF).

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::*;

fn head(content_type: &str, length: usize) -> String {
    format!(
        "POST /v1/requests HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn a_client_still_sending_when_its_request_is_refused_is_not_reset() {
    let t = TestFed::start().await;
    let body = vec![b'x'; 1024 * 1024];
    for attempt in 0..3 {
        // Not JSON: refused on its Content-Type, before the body is read. The client sends
        // the first 16 kB, and is slow with the rest: the refusal and the server's end of
        // the connection (TLS close_notify, FIN) come first.
        let mut tls = tls_as(&t, "SC0104", b"http/1.1").await;
        tls.write_all(head("text/plain", body.len()).as_bytes())
            .await
            .unwrap();
        tls.write_all(&body[..16 * 1024]).await.unwrap();
        tls.flush().await.unwrap();
        let mut answer = Vec::new();
        tls.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 400") && answer.contains("\"code\":\"bad_request\""),
            "attempt {attempt}: {answer:?}"
        );
        // The rest of the body still goes through: the server reads on, and discards it.
        for chunk in body[16 * 1024..].chunks(16 * 1024) {
            if let Err(e) = tls.write_all(chunk).await.and(tls.flush().await) {
                panic!("attempt {attempt}: the connection was reset under the client: {e}");
            }
        }
    }
    // Over the body limit, sent whole before reading: refused once 4 MiB are read.
    let body = vec![b' '; 4 * 1024 * 1024 + 200_000];
    let mut tls = tls_as(&t, "SC0104", b"http/1.1").await;
    tls.write_all(head("application/json", body.len()).as_bytes())
        .await
        .unwrap();
    tls.write_all(&body).await.unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 413"));
    drop(tls);
    t.shutdown().await;
}
