//! The counters behind the lockout and the rate limits: counted in the
//! database, so that every instance sees the same numbers, and never lost
//! when requests count at the same moment.

use crate::support::{TestDb, on_both_backends};

on_both_backends!(
    sign_in_attempts_are_counted_within_their_window,
    a_lock_holds_until_it_runs_out_and_then_the_count_starts_afresh,
    an_attempt_that_passed_is_uncounted_and_a_success_clears_the_count,
    rate_limits_count_hits_per_fixed_window_and_bucket,
    concurrent_counts_are_never_lost,
);

/// How far back attempts count in these tests (the lockout period).
const WINDOW: i64 = 1800;

fn sign_in_attempts_are_counted_within_their_window(db: &TestDb) {
    let state = db.open("");
    let attempt = |subject: &str, now: i64| {
        state.store.write(|tx| tx.record_sign_in_attempt(subject, now, now - WINDOW)).unwrap()
    };
    assert_eq!([attempt("user:a", 100), attempt("user:a", 110), attempt("user:a", 120)], [1, 2, 3]);
    assert_eq!(attempt("email:b", 120), 1, "each subject counts on its own");
    assert_eq!(attempt("user:a", 120 + WINDOW - 1), 4, "the last attempt is still within the window");
    assert_eq!(attempt("user:a", 2 * (120 + WINDOW)), 1, "after a quiet window the count starts afresh");
    assert_eq!(state.store.read(|r| r.locked_until("user:a")).unwrap(), None, "counting locks nothing");
}

fn a_lock_holds_until_it_runs_out_and_then_the_count_starts_afresh(db: &TestDb) {
    let state = db.open("");
    let attempt = |now: i64| state.store.write(|tx| tx.record_sign_in_attempt("user:a", now, now - WINDOW)).unwrap();
    let locked_until = || state.store.read(|r| r.locked_until("user:a")).unwrap();
    assert_eq!(state.store.read(|r| r.locked_until("user:nobody")).unwrap(), None);
    attempt(100);
    attempt(110);
    state.store.write(|tx| tx.lock_sign_in("user:a", 110 + WINDOW)).unwrap();
    assert_eq!(locked_until(), Some(110 + WINDOW));
    assert_eq!(attempt(120), 3, "attempts during the lock are still counted");
    assert_eq!(locked_until(), Some(110 + WINDOW), "and the lock holds");
    assert_eq!(attempt(110 + WINDOW), 1, "once the lock has run out the count starts afresh");
    assert_eq!(locked_until(), None, "and the lock is gone");
}

fn an_attempt_that_passed_is_uncounted_and_a_success_clears_the_count(db: &TestDb) {
    let state = db.open("");
    let attempt = |now: i64| state.store.write(|tx| tx.record_sign_in_attempt("user:a", now, now - WINDOW)).unwrap();
    attempt(100);
    attempt(101);
    state.store.write(|tx| tx.uncount_sign_in_attempt("user:a")).unwrap();
    assert_eq!(attempt(102), 2, "the uncounted attempt is gone, the one before it stays");

    state.store.write(|tx| tx.lock_sign_in("user:a", 5000)).unwrap();
    state.store.write(|tx| tx.clear_sign_in_failures("user:a")).unwrap();
    assert_eq!(state.store.read(|r| r.locked_until("user:a")).unwrap(), None, "a success ends the lock");
    assert_eq!(attempt(103), 1, "and the count");

    state.store.write(|tx| tx.uncount_sign_in_attempt("user:a")).unwrap();
    state.store.write(|tx| tx.uncount_sign_in_attempt("user:a")).unwrap();
    assert_eq!(attempt(104), 1, "uncounting stops at zero");
    state.store.write(|tx| tx.uncount_sign_in_attempt("user:nobody")).unwrap();
    state.store.write(|tx| tx.clear_sign_in_failures("user:nobody")).unwrap();
}

fn rate_limits_count_hits_per_fixed_window_and_bucket(db: &TestDb) {
    let state = db.open("");
    let hit =
        |bucket: &str, now: i64, window: i64| state.store.write(|tx| tx.hit_rate_limit(bucket, now, window)).unwrap();
    assert_eq!([hit("sign-in:a", 120, 60), hit("sign-in:a", 150, 60), hit("sign-in:a", 179, 60)], [1, 2, 3]);
    assert_eq!(hit("sign-in:a", 180, 60), 1, "a new minute is a new window");
    assert_eq!(hit("sign-in:b", 181, 60), 1, "each bucket counts on its own");
    assert_eq!(hit("sign-in:a", 239, 60), 2);
    assert_eq!(hit("reset:a", 3600, 3600), 1);
    assert_eq!(hit("reset:a", 7199, 3600), 2, "an hour's window holds the whole hour");
    assert_eq!(hit("reset:a", 7200, 3600), 1, "and the next hour starts afresh");
}

fn concurrent_counts_are_never_lost(db: &TestDb) {
    let state = db.open("");
    let requests = 8;
    let barrier = std::sync::Barrier::new(requests);
    let (mut attempts, mut hits): (Vec<i32>, Vec<i32>) = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..requests)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let attempt = state.store.write(|tx| tx.record_sign_in_attempt("user:a", 100, 100 - WINDOW));
                    let hit = state.store.write(|tx| tx.hit_rate_limit("sign-in:a", 100, 60));
                    (attempt.unwrap(), hit.unwrap())
                })
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().unwrap()).unzip()
    });
    attempts.sort();
    hits.sort();
    let expected: Vec<i32> = (1..=8).collect();
    assert_eq!(attempts, expected, "each attempt got a count of its own");
    assert_eq!(hits, expected, "each hit got a count of its own");
}
