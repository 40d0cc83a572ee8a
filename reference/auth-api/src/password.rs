//! Passwords (argon2id, slow on purpose) and client secrets (random, 256
//! bits, stored as SHA-256: a slow hash buys nothing for a random secret and
//! would cost the token endpoint its throughput).

use std::sync::{Arc, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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

/// An argon2id PHC string for a password.
pub fn hash(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters hashes any password")
        .to_string()
}

/// Whether a password matches a PHC string. A malformed hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
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
    fn client_secrets_are_long_random_and_compared_by_digest() {
        let (a, b) = (new_client_secret(), new_client_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in base64url");
        let digest = secret_digest(&a);
        assert!(secret_matches(&a, &digest));
        assert!(!secret_matches(&b, &digest));
    }
}
