//! Password hashing with Argon2id at the OWASP-recommended cost
//! (19 MiB of memory, 2 passes, 1 lane).

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// Argon2 runs on threads of its own, one per core, each reusing its own
/// 19 MiB of working memory. More hashes at once would only add memory and slow
/// every one of them down; and a fresh 19 MiB for every hash is kept by glibc
/// in its arenas after use (sign-ins grew the process to 700 MB before).
static HASHING_THREADS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for _ in 0..std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new().name("portti-argon2".to_owned()).spawn(move || {
            loop {
                let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                match job {
                    // A panicking job loses its answer (its caller gets an
                    // error), not the thread.
                    Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                    Err(mpsc::RecvError) => return,
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a password-hashing thread");
        }
    }
    jobs
});

/// A hash that no password matches (its output is random bytes), with the
/// production parameters: checking a password for an email that has no
/// account costs what checking a real one costs.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$ynkIsisZqq9tAg4KTjnLDA$kSxevwsaR1MJdshQFFNNQzpcFnLpUIz0KBDmIMm/DAI";

/// Runs `work` on a hashing thread and waits for it.
fn on_hashing_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (done, outcome) = mpsc::sync_channel(1);
    HASHING_THREADS
        .send(Box::new(move || {
            let _ = done.send(work());
        }))
        .map_err(|_| Error::internal("no password-hashing thread is running"))?;
    outcome.recv().map_err(|_| Error::internal("a password-hashing thread stopped"))
}

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(Error::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

thread_local! {
    /// A hashing thread's Argon2 working memory, kept between hashes.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The most memory a stored hash may ask for (1 GiB), so a corrupt one
/// cannot make a hashing thread allocate without bound.
const MAX_MEMORY_KIB: u32 = 1 << 20;

/// Argon2 of `password` and `salt` into `out`: in this thread's kept memory
/// with the production parameters, in memory of its own with any others.
fn argon2_into(argon2: &Argon2<'_>, params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(Error::internal("stored password hash asks for more than 1 GiB"));
    }
    let mut run = |memory: &mut [Block]| {
        argon2.hash_password_into_with_memory(password, salt, out, memory).map_err(Error::internal)
    };
    let production = hasher()?;
    let cost = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
    if cost(params) != cost(production.params()) {
        return run(&mut vec![Block::default(); params.block_count()]);
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() != params.block_count() {
            *memory = vec![Block::default(); params.block_count()];
        }
        run(memory)
    })
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh salt.
pub fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    on_hashing_thread(move || {
        let argon2 = hasher()?;
        let params = argon2.params().clone();
        let salt = super::secret::random_bytes::<16>();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon2_into(&argon2, &params, password.as_bytes(), &salt, &mut out)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(Error::internal)?,
            salt: Some(Salt::new(&salt).map_err(Error::internal)?),
            hash: Some(Output::new(&out).map_err(Error::internal)?),
        };
        Ok(hash.to_string())
    })?
}

/// Whether `password` matches the stored PHC string, with the parameters it
/// was made with. A malformed hash is an internal error, not a mismatch, so
/// corruption is noticed.
pub fn verify_password(password: &str, phc: &str) -> Result<bool> {
    let corrupt = |e: &dyn std::fmt::Display| Error::internal(format_args!("stored password hash: {e}"));
    let parsed = PasswordHash::new(phc).map_err(|e| corrupt(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| corrupt(&e))?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).map_err(|e| corrupt(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| corrupt(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(corrupt(&"no salt or no hash"));
    };
    let password = password.to_owned();
    on_hashing_thread(move || {
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        argon2_into(&argon2, &params, password.as_bytes(), salt.as_ref(), &mut out)?;
        Ok(bool::from(out.ct_eq(expected.as_bytes())))
    })?
}

/// Whether `password` matches `stored`; with no stored hash, the same work
/// is done against the decoy and the answer is no.
pub fn verify_password_or_decoy(password: &str, stored: Option<&str>) -> Result<bool> {
    let matched = verify_password(password, stored.unwrap_or(DECOY))?;
    Ok(matched && stored.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let hash = hash_password("a long enough passphrase").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("a long enough passphrase", &hash).unwrap());
        assert!(!verify_password("a long enough passphrasE", &hash).unwrap());
        assert_ne!(hash, hash_password("a long enough passphrase").unwrap(), "salts differ");
    }

    #[test]
    fn hashes_run_on_one_thread_per_core_at_most() {
        let cores = std::thread::available_parallelism().unwrap().get();
        let threads: std::collections::HashSet<_> = std::thread::scope(|scope| {
            let callers: Vec<_> = (0..4 * cores)
                .map(|_| {
                    scope.spawn(|| {
                        on_hashing_thread(|| {
                            std::thread::sleep(std::time::Duration::from_millis(10));
                            std::thread::current().id()
                        })
                        .unwrap()
                    })
                })
                .collect();
            callers.into_iter().map(|caller| caller.join().unwrap()).collect()
        });
        assert!(threads.len() <= cores, "{} hashing threads for {cores} cores", threads.len());
        assert!(!threads.contains(&std::thread::current().id()));
    }

    #[test]
    fn the_decoy_costs_what_a_real_hash_costs_and_matches_nothing() {
        let real = hash_password("x").unwrap();
        let params = |phc: &str| phc.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(params(DECOY), params(&real), "same algorithm, version and cost");
        assert!(!verify_password_or_decoy("", None).unwrap());
        assert!(verify_password_or_decoy("x", Some(&real)).unwrap());
        assert!(!verify_password_or_decoy("y", Some(&real)).unwrap());
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_and_keep_their_own_parameters() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let cheaper = Params::new(8 * 1024, 1, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheaper)
            .hash_password(b"pass phrase")
            .unwrap()
            .to_string();
        assert!(verify_password("pass phrase", &theirs).unwrap(), "a hash with other parameters verifies");
        assert!(!verify_password("pass phrasE", &theirs).unwrap());
        let ours = hash_password("pass phrase").unwrap();
        assert!(hasher().unwrap().verify_password(b"pass phrase", ours.as_str()).is_ok());
        assert!(hasher().unwrap().verify_password(b"pass phrasE", ours.as_str()).is_err());
    }

    #[test]
    fn corrupt_hash_is_an_error_not_a_mismatch() {
        assert!(verify_password("x", "not a hash").is_err());
    }
}
