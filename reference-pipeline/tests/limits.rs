//! The service's connection and body limits, driven with raw sockets on loopback: a client
//! library would not keep sending after the answer, nor hold a connection without a request.

mod support;

use std::time::Duration;

use reference_pipeline::PipelineConfig;
use scan_config::ConnectionLimits;
use support::{COMPLETION, mock_config, start_mock, start_pipeline, stop};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A bound on every wait, so that a broken limit fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(60);

/// Reads until the head of a response has arrived; the head.
async fn read_head(reader: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(GUARD, reader.read(&mut buf))
            .await
            .expect("an answer within the guard")
            .expect("the answer is readable: the server did not reset the connection");
        assert!(
            n > 0,
            "closed before an answer: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_body_is_answered_413_while_the_client_still_sends() {
    let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "can")).await;
    let pipeline = start_pipeline(support::pipeline_config(&[&mock])).await;
    const BODY: usize = 50 * 1024 * 1024;
    let tcp = TcpStream::connect(pipeline.addr()).await.unwrap();
    let (mut reader, mut writer) = tcp.into_split();
    let head = format!(
        "POST {COMPLETION} HTTP/1.1\r\nhost: test\r\nx-user-id: u1\r\n\
         content-type: application/json\r\ncontent-length: {BODY}\r\n\r\n"
    );
    // The client sends the whole body, as Python's http.client does, before it reads.
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..BODY / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        std::io::Result::Ok(writer)
    });
    let sent = tokio::time::timeout(GUARD, sender)
        .await
        .expect("sent")
        .unwrap();
    assert!(sent.is_ok(), "the server broke the pipe: {:?}", sent.err());
    let response = read_head(&mut reader).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    stop(pipeline, mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_comes_from_the_config() {
    let mock = start_mock(mock_config(Duration::ZERO, "recyclable", "can")).await;
    let config = PipelineConfig {
        connections: ConnectionLimits {
            max_connections: Some(1),
            ..ConnectionLimits::default()
        },
        ..support::pipeline_config(&[&mock])
    };
    let pipeline = start_pipeline(config).await;
    let mut held = TcpStream::connect(pipeline.addr()).await.unwrap();
    held.write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head(&mut held).await.starts_with("HTTP/1.1 200"));
    let mut refused = TcpStream::connect(pipeline.addr()).await.unwrap();
    refused
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let refusal = read_head(&mut refused).await;
    assert!(refusal.starts_with("HTTP/1.1 503"), "{refusal}");
    drop(held);
    stop(pipeline, mock).await;
}
