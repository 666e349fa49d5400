//! Prometheus metrics: requests and their latency per route and status,
//! sign-ins by outcome, lockouts, tokens per grant; the outbox and the
//! database pool are read when `/metrics` is scraped.
//!
//! Counting is a few atomic operations per request (the `prometheus` crate),
//! so it costs next to nothing on the hot path.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::error::{Error, Result};

/// Why a sign-in step ended as it did.
#[derive(Debug, Clone, Copy)]
pub enum SignInOutcome {
    /// Both factors done: a session started.
    Success,
    WrongPassword,
    WrongCode,
    /// Refused: the account is locked, or the address throttled.
    Refused,
}

impl SignInOutcome {
    fn label(self) -> &'static str {
        match self {
            SignInOutcome::Success => "success",
            SignInOutcome::WrongPassword => "wrong_password",
            SignInOutcome::WrongCode => "wrong_code",
            SignInOutcome::Refused => "refused",
        }
    }
}

/// A value read when the metrics are scraped (the outbox, the pool).
#[derive(Debug, Clone, Copy)]
pub struct Gauge<'a> {
    pub name: &'a str,
    pub help: &'a str,
    pub label: (&'a str, &'a str),
    pub value: f64,
}

/// The counters of one instance.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    sign_ins: IntCounterVec,
    lockouts: IntCounter,
    tokens: IntCounterVec,
    /// The counters of the answers asked for most, each a path's GET
    /// answered 200, resolved once: finding them by their labels costs
    /// more than counting.
    frequent: Vec<(&'static str, IntCounter, Histogram)>,
}

fn metric_error(e: prometheus::Error) -> Error {
    Error::internal(format_args!("metrics: {e}"))
}

impl Metrics {
    /// The metrics, with the counters of a GET answered 200 at each of
    /// `frequent_paths` (which are their own route patterns) resolved once.
    pub fn new(frequent_paths: &[&'static str]) -> Result<Self> {
        let registry = Registry::new_custom(Some("portti".to_owned()), None).map_err(metric_error)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered, by route, method and status"),
            &["route", "method", "status"],
        )
        .map_err(metric_error)?;
        let http_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request, by route")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["route"],
        )
        .map_err(metric_error)?;
        let sign_ins =
            IntCounterVec::new(Opts::new("sign_in_steps_total", "Password and code steps, by outcome"), &["outcome"])
                .map_err(metric_error)?;
        let lockouts =
            IntCounter::new("lockouts_total", "Accounts locked after failed attempts").map_err(metric_error)?;
        let tokens = IntCounterVec::new(Opts::new("tokens_issued_total", "Token responses, by grant"), &["grant"])
            .map_err(metric_error)?;
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_seconds.clone()),
            Box::new(sign_ins.clone()),
            Box::new(lockouts.clone()),
            Box::new(tokens.clone()),
        ] {
            registry.register(collector).map_err(metric_error)?;
        }
        let frequent = frequent_paths
            .iter()
            .map(|path| {
                let count = http_requests.get_metric_with_label_values(&[path, "GET", "200"]).map_err(metric_error)?;
                let time = http_seconds.get_metric_with_label_values(&[path]).map_err(metric_error)?;
                Ok((*path, count, time))
            })
            .collect::<Result<_>>()?;
        Ok(Self { registry, http_requests, http_seconds, sign_ins, lockouts, tokens, frequent })
    }

    /// Counts an answered request; `route` is the route's pattern, never the raw path.
    pub fn request(&self, route: &str, method: &str, status: &str, seconds: f64) {
        if method == "GET"
            && status == "200"
            && let Some((_, count, time)) = self.frequent.iter().find(|(path, ..)| *path == route)
        {
            count.inc();
            time.observe(seconds);
            return;
        }
        self.http_requests.with_label_values(&[route, method, status]).inc();
        self.http_seconds.with_label_values(&[route]).observe(seconds);
    }

    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.sign_ins.with_label_values(&[outcome.label()]).inc();
    }

    pub fn lockout(&self) {
        self.lockouts.inc();
    }

    pub fn token_issued(&self, grant: &str) {
        self.tokens.with_label_values(&[grant]).inc();
    }

    /// The text exposition, with gauges read now.
    pub fn render(&self, gauges: &[Gauge<'_>]) -> Result<String> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).map_err(metric_error)?;
        let mut text = String::from_utf8(out).map_err(Error::internal)?;
        let mut described = Vec::new();
        for Gauge { name, help, label: (key, value_label), value } in gauges {
            if !described.contains(name) {
                text.push_str(&format!("# HELP portti_{name} {help}\n# TYPE portti_{name} gauge\n"));
                described.push(*name);
            }
            text.push_str(&format!("portti_{name}{{{key}=\"{value_label}\"}} {value}\n"));
        }
        Ok(text)
    }
}
