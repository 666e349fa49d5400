//! The load generator: HTTP/1.1 keep-alive connections from this process to
//! the server on loopback, each driven by a worker in a loop, for a warm-up
//! and then a measured window.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::Fail;

/// One keep-alive connection to the server.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, if the status is 200.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Fail> {
        if self.status != StatusCode::OK {
            return Err(format!("status {}: {}", self.status, String::from_utf8_lossy(&self.body)).into());
        }
        Ok(serde_json::from_slice(&self.body)?)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        let host = HeaderValue::from_str(&addr.to_string()).unwrap_or(HeaderValue::from_static("localhost"));
        Self { addr, host, sender: None }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, Fail> {
        if self.sender.as_ref().is_none_or(|sender| sender.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| "no connection".into())
    }

    /// Sends a request; `headers` are added to it.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&'static str, String)>,
    ) -> Result<Reply, Fail> {
        let mut request = Request::builder().method(method).uri(path).header(HOST, self.host.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some((content_type, body)) => {
                request = request.header(CONTENT_TYPE, content_type);
                Full::new(Bytes::from(body))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body)?;
        let sender = self.connect().await?;
        sender.ready().await?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                self.sender = None;
                return Err(e.into());
            }
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply { status: parts.status, headers: parts.headers, body })
    }

    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Result<Reply, Fail> {
        self.send(Method::GET, path, headers, None).await
    }

    pub async fn post(&mut self, path: &str, headers: &[(&str, &str)], form: String) -> Result<Reply, Fail> {
        self.send(Method::POST, path, headers, Some(("application/x-www-form-urlencoded", form))).await
    }

    pub async fn post_json(&mut self, path: &str, headers: &[(&str, &str)], json: String) -> Result<Reply, Fail> {
        self.send(Method::POST, path, headers, Some(("application/json", json))).await
    }
}

/// What a connection does over and over: one operation (a request, or a
/// whole sign-in), checked.
pub trait Worker: Send + 'static {
    fn step(&mut self, conn: &mut Conn) -> impl Future<Output = Result<(), Fail>> + Send;
}

/// What one connection saw in the measured window.
#[derive(Default, Clone)]
pub struct Tally {
    /// Latency of each operation finished in the window, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Wrong answers and failed requests, over the whole run.
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Tally {
    /// An operation finished in the window, that took `took`.
    pub fn record(&mut self, took: Duration) {
        self.latencies_us.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    /// A wrong answer or a failed request.
    pub fn fail(&mut self, e: Fail) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| e.to_string());
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The latency at `quantile` (0..=1), in milliseconds; sorts in place.
    pub fn percentile_ms(&mut self, quantile: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let rank = ((self.latencies_us.len() as f64 - 1.0) * quantile).round() as usize;
        f64::from(self.latencies_us[rank]) / 1000.0
    }
}

/// When the measured window starts and ends.
#[derive(Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn after_warm_up(warm_up: Duration, measured: Duration) -> Self {
        let start = Instant::now() + warm_up;
        Self { start, end: start + measured }
    }

    pub fn contains(&self, at: Instant) -> bool {
        self.start <= at && at <= self.end
    }
}

/// Runs every worker on its own connection until the window ends, and
/// returns the workers (for checks after the run) with the merged tally.
pub async fn run<W: Worker>(addr: SocketAddr, workers: Vec<W>, window: Window) -> Result<(Vec<W>, Tally), Fail> {
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let mut conn = Conn::new(addr);
                let mut tally = Tally::default();
                loop {
                    let started = Instant::now();
                    if started >= window.end {
                        break;
                    }
                    let result = worker.step(&mut conn).await;
                    let finished = Instant::now();
                    match result {
                        // Counted in the window they finish in, as the server's CPU is.
                        Ok(()) if window.contains(finished) => tally.record(finished.duration_since(started)),
                        Ok(()) => {}
                        // Wrong answers count whenever they happen, warm-up included.
                        Err(e) => tally.fail(e),
                    }
                }
                (worker, tally)
            })
        })
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    let mut total = Tally::default();
    for task in tasks {
        let (worker, tally) = task.await?;
        workers.push(worker);
        total.merge(tally);
    }
    Ok((workers, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_sample() {
        let mut tally = Tally { latencies_us: (1..=100).rev().map(|ms| ms * 1000).collect(), ..Tally::default() };
        assert_eq!(tally.percentile_ms(0.5), 51.0);
        assert_eq!(tally.percentile_ms(0.99), 99.0);
        assert_eq!(tally.percentile_ms(1.0), 100.0);
    }
}
