//! Passwords (argon2id, slow on purpose) and client secrets (random, 256
//! bits, stored as SHA-256: a slow hash buys nothing for a random secret and
//! would cost the token endpoint its throughput).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Password hashing a few at a time, on threads of its own. An argon2id
/// hash takes about 19 MiB and tens of milliseconds of a core: a flood of
/// logins must wait in a bounded queue, not start hundreds of hashes at
/// once, and what does not fit in the queue is turned away at once (503)
/// rather than left to time out. Dedicated threads also keep the memory
/// the allocator holds on to after a hash to a few threads' worth.
#[derive(Debug)]
pub struct HashingPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool and its queue are full: the caller should come back later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl HashingPool {
    /// `concurrency` hashes at a time, `queue` more waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let (jobs, waiting) = std::sync::mpsc::sync_channel::<Job>(queue);
        let waiting = Arc::new(Mutex::new(waiting));
        for n in 0..concurrency.max(1) {
            let waiting = Arc::clone(&waiting);
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take a job, not to run it.
                        let job = waiting.lock().map_or(None, |w| w.recv().ok());
                        match job {
                            Some(job) => job(),
                            None => break, // The pool is gone.
                        }
                    }
                })
                .expect("a thread for password hashing");
        }
        Self { jobs }
    }

    /// Runs `work` (a hash or a verification) when its turn comes;
    /// [`Busy`] when the pool and its queue are full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| Busy)?;
        result.await.map_err(|_| Busy)
    }
}

thread_local! {
    /// This thread's argon2 working memory (19 MiB at the default cost),
    /// kept from one hash to the next. Allocated afresh for each hash, the
    /// blocks piled up in the allocator's heaps: about 300 MiB after a few
    /// dozen hashes on two threads, where this keeps it to one set per
    /// hashing thread.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 of `password` and `salt` into `out`, in this thread's memory.
fn argon2_into(
    params: &Params,
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    MEMORY.with_borrow_mut(|memory| {
        memory.resize(params.block_count(), Block::default());
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..])
    })
}

/// An argon2id PHC string for a password.
pub fn hash(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&params, &argon2, password.as_bytes(), &salt_bytes, &mut out)
        .expect("argon2id with default parameters hashes any password");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("the default parameters"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("a 32-byte output")),
    }
    .to_string()
}

/// Whether a password matches a PHC string. A malformed hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    // `Output`'s equality is constant-time.
    argon2_into(&params, &argon2, password.as_bytes(), salt, &mut out).is_ok()
        && Output::new(&out).is_ok_and(|actual| actual == expected)
}

/// A new client secret: 32 random bytes, base64url without padding.
pub fn new_client_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest a client secret is stored as.
pub fn secret_digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares a presented secret with a stored digest in constant time.
pub fn secret_matches(secret: &str, digest: &[u8]) -> bool {
    secret_digest(secret).ct_eq(digest).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_turns_away_what_does_not_fit_and_serves_the_rest() {
        let pool = Arc::new(HashingPool::new(1, 2));
        let (started, running) = std::sync::mpsc::channel::<()>();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let first = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(move || {
                    started.send(()).unwrap();
                    wait.recv().is_ok()
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || running.recv().unwrap())
            .await
            .unwrap();
        // One runs, two wait: a fourth does not fit.
        let queued: Vec<_> = (0..2)
            .map(|n| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move { pool.run(move || n).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(pool.run(|| 9).await, Err(Busy));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(true));
        for (n, task) in queued.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), Ok(n));
        }
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let phc = hash("correct horse battery staple");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &phc));
        assert!(!verify("Correct horse battery staple", &phc));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn hashes_are_the_argon2_crates_own_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        // Hashes stored before this module kept its own memory still verify,
        // and what it makes verifies with the crate's verifier.
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"pass phrase", &salt)
            .unwrap()
            .to_string();
        assert!(verify("pass phrase", &theirs));
        assert!(!verify("pass phrasE", &theirs));
        let ours = hash("pass phrase");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"pass phrase", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"other", &parsed)
                .is_err()
        );
    }

    #[test]
    fn client_secrets_are_long_random_and_compared_by_digest() {
        let (a, b) = (new_client_secret(), new_client_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in base64url");
        let digest = secret_digest(&a);
        assert!(secret_matches(&a, &digest));
        assert!(!secret_matches(&b, &digest));
    }
}
