//! Helpers the benchmarks share: plain HTTP over a socket, a probe stream, and the
//! process figures of `/proc` (CPU, memory, load).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `scan-bench serve mock-openai` in its own process, killed when dropped.
pub struct Mock {
    pub child: Child,
    pub addr: SocketAddr,
    /// Base URL without `/v1`.
    pub base: String,
}

impl Mock {
    /// Starts `bin serve mock-openai --config CONFIG` on a free loopback port.
    pub fn start(bin: &Path, config: &Path) -> Self {
        let mut child = Command::new(bin)
            .args(["serve", "mock-openai", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scan-bench serve mock-openai");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the listening line");
        // "mock-openai listening on http://127.0.0.1:PORT/v1"
        let url = line.split_whitespace().last().expect("a URL").to_owned();
        let base = url.trim_end_matches('/').trim_end_matches("/v1").to_owned();
        let addr = base
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address");
        Self { child, addr, base }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One clock tick of `/proc/PID/stat` (USER_HZ, 100 on Linux).
pub const TICK: Duration = Duration::from_millis(10);

pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// One streamed request over a fresh connection: (first chunk, `[DONE]`) in µs from the write.
pub fn probe_once(addr: SocketAddr) -> std::io::Result<(u64, u64)> {
    const BODY: &str =
        r#"{"model":"probe","stream":true,"messages":[{"role":"user","content":"hello"}]}"#;
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let sent = Instant::now();
    stream.write_all(request.as_bytes())?;
    let mut seen = Vec::with_capacity(64 * 1024);
    let mut buf = [0u8; 16 * 1024];
    let mut first = None;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let at = sent.elapsed().as_micros() as u64;
        // Search the new bytes plus an overlap, for markers split across reads.
        let from = seen.len().saturating_sub(16);
        seen.extend_from_slice(&buf[..n]);
        let new = &seen[from..];
        if first.is_none() && contains(new, b"data: {") {
            first = Some(at);
        }
        if contains(new, b"data: [DONE]") {
            return Ok((first.unwrap_or(at), at));
        }
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Fields of `/proc/<pid>/stat` after the command name (field 3, the state, is index 0).
pub fn stat_fields(pid: &str) -> Vec<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit(") ").next().unwrap_or("");
    rest.split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect()
}

pub fn ticks(fields: &[u64], from: usize) -> Duration {
    TICK * fields.get(from..from + 2).map_or(0, |f| f[0] + f[1]) as u32
}

/// User + system time of a running process (utime, stime: fields 14, 15).
pub fn process_cpu(pid: u32) -> Duration {
    ticks(&stat_fields(&pid.to_string()), 11)
}

/// User + system time of this process's reaped children (cutime, cstime: fields 16, 17).
pub fn children_cpu() -> Duration {
    ticks(&stat_fields("self"), 13)
}

/// Resident set and its peak, bytes.
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((kb("VmRSS:")?, kb("VmHWM:")?))
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}
