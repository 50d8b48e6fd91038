//! The connection limits, tried on a real server over loopback with raw sockets (a client
//! library would hide the slow head and the idle wait being tested).

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use scan_serve::{ConnectionLimits, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A bound on every wait, so that a broken limit fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(30);

const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n";

async fn serve(limits: ConnectionLimits) -> Server {
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    Server::bind("127.0.0.1:0".parse().unwrap(), app, &limits)
        .await
        .unwrap()
}

/// Reads one whole response (the test server's bodies are short and sent with a length).
async fn read_response(tcp: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(GUARD, tcp.read(&mut buf))
            .await
            .expect("a response within the guard")
            .expect("a readable connection");
        assert!(n > 0, "closed before a whole response: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .expect("a content-length")
                .trim()
                .parse()
                .unwrap();
            if seen.len() >= head_end + 4 + length {
                return text.into_owned();
            }
        }
    }
}

/// Waits for the server to close `tcp` (which must send nothing more); how long that took.
async fn closed_after(tcp: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    match tokio::time::timeout(GUARD, tcp.read(&mut buf)).await {
        Err(_) => panic!("the server kept the connection open past the guard"),
        Ok(Ok(0) | Err(_)) => start.elapsed(),
        Ok(Ok(n)) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
    }
}

async fn get_ok(server: &Server) {
    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(REQUEST).await.unwrap();
    let response = read_response(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn a_slow_request_head_is_closed_after_the_header_timeout() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(600),
        max_connections: None,
    };
    let server = serve(limits).await;
    let mut slow = TcpStream::connect(server.addr()).await.unwrap();
    // Half a head: the request line and one header, never the blank line.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n")
        .await
        .unwrap();
    let waited = closed_after(&mut slow).await;
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
    // The idle timeout is ten minutes: only the head timeout can have closed it.
    get_ok(&server).await;
}

#[tokio::test]
async fn a_silent_new_connection_is_closed_after_the_header_timeout() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(600),
        max_connections: None,
    };
    let server = serve(limits).await;
    let mut silent = TcpStream::connect(server.addr()).await.unwrap();
    let waited = closed_after(&mut silent).await;
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_millis(300),
        max_connections: None,
    };
    let server = serve(limits).await;
    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(REQUEST).await.unwrap();
    let first = read_response(&mut tcp).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // Kept alive: a second request on the same connection is served.
    tcp.write_all(REQUEST).await.unwrap();
    let second = read_response(&mut tcp).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    // The head timeout is ten minutes: only the idle timeout can close it.
    let waited = closed_after(&mut tcp).await;
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_at_once() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        max_connections: Some(2),
    };
    let server = serve(limits).await;
    assert_eq!(server.max_connections(), 2);
    // Two kept-alive connections, each known to be taken by a served request.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
        tcp.write_all(REQUEST).await.unwrap();
        assert!(read_response(&mut tcp).await.starts_with("HTTP/1.1 200"));
        held.push(tcp);
    }
    // The third is answered at once: refused, not left waiting.
    let mut third = TcpStream::connect(server.addr()).await.unwrap();
    third.write_all(REQUEST).await.unwrap();
    let refusal = read_response(&mut third).await;
    assert!(refusal.starts_with("HTTP/1.1 503"), "{refusal}");
    assert!(
        refusal.contains("\"code\":\"too_many_connections\""),
        "{refusal}"
    );
    assert!(
        refusal.to_ascii_lowercase().contains("retry-after: 1"),
        "{refusal}"
    );
    closed_after(&mut third).await;
    // The held connections are still served.
    held[0].write_all(REQUEST).await.unwrap();
    assert!(
        read_response(&mut held[0])
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_stops_accepting() {
    let server = serve(ConnectionLimits::default()).await;
    let addr = server.addr();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(REQUEST).await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    tokio::time::timeout(GUARD, server.shutdown())
        .await
        .expect("an idle connection does not hold the shutdown")
        .unwrap();
    closed_after(&mut idle).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens after the shutdown"
    );
}

#[tokio::test]
async fn a_quiet_request_in_progress_outlives_both_timeouts() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(100),
        max_connections: None,
    };
    // Five times both timeouts before the first byte of the answer, as a model's first token
    // or a quiet stream can be.
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "late"
        }),
    );
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), app, &limits)
        .await
        .unwrap();
    let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let response = read_response(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("late"), "{response}");
}
