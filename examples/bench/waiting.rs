//! Browsers waiting on QR codes: many computers at the sign-in page at once,
//! each on a keep-alive connection of its own and polling its code's state
//! every second as `qr.js` does, while a few phones approve some of them.
//! What a waiting browser costs the server (CPU and memory), and how soon
//! an approved browser moves on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::cases::{ShownQr, SignInShared, TokenResponse, approve_qr};
use crate::load::{Conn, Tally, Window};
use crate::seed::Phone;
use crate::server::Server;
use crate::{Context, Fail};

/// `qr.js`'s interval between polls.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// How many approvals the phones make a second, together: few enough that
/// the browsers waiting stay about as many through the window.
pub const APPROVALS_PER_SECOND: f64 = 20.0;

/// How many browsers open their sign-in pages at once.
const OPENING_AT_ONCE: usize = 32;

/// What the waiting browsers cost and saw.
pub struct Waiting {
    pub browsers: usize,
    /// Time to open every browser's sign-in page.
    pub opening: Duration,
    pub polls: Tally,
    pub polls_per_second: f64,
    /// Server CPU per waiting browser, in milliseconds a second.
    pub cpu_ms_per_browser_second: f64,
    /// Server CPU per poll, in milliseconds.
    pub cpu_ms_per_poll: f64,
    /// Growth of the server's resident memory with the browsers waiting, per browser.
    pub memory_kb_per_browser: f64,
    /// From a phone's approval to its browser back at the application, for
    /// the approvals made in the measured window.
    pub moved_on: Tally,
    pub approvals: usize,
    /// The access tokens of the approved browsers' sign-ins, verified after the run.
    pub access_tokens: Vec<String>,
    pub problems: Vec<String>,
}

/// A phone that approves, with its app's access token.
pub struct Approver {
    pub phone: Arc<Phone>,
    pub app_token: String,
}

/// The codes the browsers show that no phone has approved yet, and when
/// each approved one was.
#[derive(Default)]
struct Codes {
    waiting: Vec<(String, u8)>,
    approved_at: HashMap<String, (Instant, Arc<Phone>)>,
}

/// Opens `count` browsers at the sign-in page, lets them poll through a
/// warm-up and a measured window of `seconds`, with the phones approving
/// meanwhile, and returns what it cost.
pub async fn run(
    addr: SocketAddr,
    server: &Server,
    shared: Arc<SignInShared>,
    approvers: Vec<Approver>,
    count: usize,
    warm_up: Duration,
    measured: Duration,
) -> Result<Waiting, Fail> {
    let memory_before = server.memory()?.now;
    let codes = Arc::new(Mutex::new(Codes::default()));
    let started = Instant::now();
    // The window is set once every browser is open; until then, no poll is counted.
    let (window_tx, window) = tokio::sync::watch::channel(None::<Window>);

    // Each browser opened is handed over at once, to poll from then on.
    let (opened_tx, mut opened) = tokio::sync::mpsc::unbounded_channel();
    let mut opening = JoinSet::new();
    let openers = OPENING_AT_ONCE.min(count).max(1);
    for opener in 0..openers {
        let (shared, codes, opened_tx) = (shared.clone(), codes.clone(), opened_tx.clone());
        let each = count / openers + usize::from(opener < count % openers);
        opening.spawn(async move {
            for _ in 0..each {
                let mut conn = Conn::new(addr);
                let shown = ShownQr::open(&mut conn, &shared).await.context("opening a sign-in page")?;
                codes.lock().map_err(|_| "a browser panicked")?.waiting.push((shown.qr_id.clone(), shown.number));
                opened_tx.send((conn, shown))?;
            }
            Ok::<_, Fail>(())
        });
    }
    drop(opened_tx);
    let mut browsers = JoinSet::new();
    while let Some((conn, shown)) = opened.recv().await {
        browsers.spawn(wait(conn, shown, shared.clone(), codes.clone(), window.clone()));
    }
    while let Some(opener) = opening.join_next().await {
        opener??;
    }
    let opening = started.elapsed();

    let window_now = Window::after_warm_up(warm_up, measured);
    window_tx.send(Some(window_now))?;
    let mut phones = JoinSet::new();
    let pause = Duration::from_secs_f64(approvers.len() as f64 / APPROVALS_PER_SECOND);
    for approver in approvers {
        phones.spawn(approve_until(addr, approver, codes.clone(), window_now, pause));
    }
    tokio::time::sleep_until(window_now.start.into()).await;
    let cpu_before = server.cpu_seconds()?;
    tokio::time::sleep(measured / 2).await;
    let memory_waiting = server.memory()?.now;
    tokio::time::sleep_until(window_now.end.into()).await;
    let cpu = server.cpu_seconds()? - cpu_before;

    let mut approvals = 0;
    let mut problems = Vec::new();
    while let Some(approved) = phones.join_next().await {
        match approved? {
            Ok(made) => approvals += made,
            Err(e) => problems.push(format!("a phone's approval: {e}")),
        }
    }
    let (mut polls, mut moved_on, mut access_tokens) = (Tally::default(), Tally::default(), Vec::new());
    while let Some(waited) = browsers.join_next().await {
        let waited = waited?;
        polls.merge(waited.polls);
        moved_on.merge(waited.moved_on);
        access_tokens.extend(waited.access_token);
    }
    problems.extend(polls.first_error.take().map(|e| format!("a browser's poll: {e}")));
    problems.extend(moved_on.first_error.take().map(|e| format!("an approved browser: {e}")));
    let seconds = measured.as_secs_f64();
    let polled = polls.latencies_us.len() as f64;
    Ok(Waiting {
        browsers: count,
        opening,
        polls_per_second: polled / seconds,
        cpu_ms_per_browser_second: cpu * 1000.0 / seconds / count as f64,
        cpu_ms_per_poll: if polled > 0.0 { cpu * 1000.0 / polled } else { f64::NAN },
        memory_kb_per_browser: (memory_waiting - memory_before) * 1e3 / count as f64,
        polls,
        moved_on,
        approvals,
        access_tokens,
        problems,
    })
}

/// What one waiting browser saw.
struct Waited {
    polls: Tally,
    moved_on: Tally,
    access_token: Option<String>,
}

/// One browser: polls every second until its code is approved, then goes
/// on to the application, which exchanges the code; or until the window ends.
async fn wait(
    mut conn: Conn,
    shown: ShownQr,
    shared: Arc<SignInShared>,
    codes: Arc<Mutex<Codes>>,
    mut window: tokio::sync::watch::Receiver<Option<Window>>,
) -> Waited {
    let mut waited = Waited { polls: Tally::default(), moved_on: Tally::default(), access_token: None };
    let mut ticks = tokio::time::interval_at((Instant::now() + POLL_EVERY).into(), POLL_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = *window.borrow_and_update();
        if now.is_some_and(|w| Instant::now() >= w.end) {
            return waited;
        }
        let asked = Instant::now();
        let state = match shown.poll(&mut conn).await {
            Ok(state) => state,
            Err(e) => {
                waited.polls.fail(e);
                continue;
            }
        };
        let answered = Instant::now();
        if now.is_some_and(|w| w.contains(answered)) {
            waited.polls.record(answered - asked);
        }
        match state.as_str() {
            "pending" => {}
            "approved" => {
                match go_on(&mut conn, &shown, &shared, &codes, now, &mut waited.moved_on).await {
                    Ok(tokens) => waited.access_token = Some(tokens.access_token),
                    Err(e) => waited.moved_on.fail(e),
                }
                return waited;
            }
            other => {
                waited.polls.fail(format!("a waiting code became {other}").into());
                return waited;
            }
        }
    }
}

/// The approved browser moves on: the time from the approval to its return
/// to the application is counted; then the application exchanges the code.
async fn go_on(
    conn: &mut Conn,
    shown: &ShownQr,
    shared: &SignInShared,
    codes: &Mutex<Codes>,
    window: Option<Window>,
    moved_on: &mut Tally,
) -> Result<TokenResponse, Fail> {
    let callback = shown.go_on(conn).await?;
    let back = Instant::now();
    // The poll may see the approval a moment before the phone has its answer.
    let mut approved = None;
    for _ in 0..1000 {
        approved = codes.lock().map_err(|_| "a phone panicked")?.approved_at.get(&shown.qr_id).cloned();
        if approved.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (approved_at, phone) = approved.ok_or("a code no phone approved was approved")?;
    if window.is_some_and(|w| w.contains(approved_at)) {
        moved_on.record(back - approved_at);
    }
    shown.finish(conn, shared, &callback, &phone).await
}

/// A phone approving waiting codes, one every `pause`, from the window's
/// warm-up to its end; returns how many it approved.
async fn approve_until(
    addr: SocketAddr,
    approver: Approver,
    codes: Arc<Mutex<Codes>>,
    window: Window,
    pause: Duration,
) -> Result<usize, Fail> {
    let mut conn = Conn::new(addr);
    let mut made = 0;
    while Instant::now() < window.end {
        let next = {
            let mut codes = codes.lock().map_err(|_| "a browser panicked")?;
            let left = codes.waiting.len();
            (left > 0).then(|| codes.waiting.swap_remove(rand::random_range(0..left)))
        };
        let Some((qr_id, number)) = next else { break };
        approve_qr(&mut conn, &approver.phone, &approver.app_token, &qr_id, number).await?;
        let at = Instant::now();
        codes.lock().map_err(|_| "a browser panicked")?.approved_at.insert(qr_id, (at, approver.phone.clone()));
        made += 1;
        tokio::time::sleep(pause).await;
    }
    Ok(made)
}
