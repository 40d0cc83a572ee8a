//! The two Docker Engine API calls this crate makes itself, blocking and with
//! short timeouts: `GET /_ping` to learn within seconds whether a daemon is
//! there (testcontainers would wait much longer), and `DELETE /containers/ID`
//! at process exit. Shared containers live in statics, which Rust never drops,
//! so testcontainers' own removal on drop would never run.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Mutex, Once};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Where the Docker daemon listens, as `DOCKER_HOST` says.
#[derive(Debug, Clone)]
pub(crate) enum DockerEndpoint {
    Unix(PathBuf),
    Tcp { address: String, tls: bool },
}

impl DockerEndpoint {
    pub(crate) fn from_env() -> Self {
        let host = std::env::var("DOCKER_HOST").unwrap_or_default();
        if let Some(address) = host.strip_prefix("tcp://") {
            let tls = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
            Self::Tcp {
                address: address.trim_end_matches('/').to_owned(),
                tls,
            }
        } else {
            let path = host
                .strip_prefix("unix://")
                .unwrap_or("/var/run/docker.sock");
            Self::Unix(PathBuf::from(if path.is_empty() {
                "/var/run/docker.sock"
            } else {
                path
            }))
        }
    }

    /// Succeeds when a daemon answers `GET /_ping` with 200. Behind TLS, an
    /// open port is taken as an answer: testcontainers does the handshake.
    pub(crate) fn ping(&self) -> io::Result<()> {
        if let Self::Tcp { address, tls: true } = self {
            return connect_tcp(address).map(drop);
        }
        let status = self.request("GET", "/_ping")?;
        if status == 200 {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the daemon answered {status} to /_ping"
            )))
        }
    }

    /// Removes a container and its anonymous volumes, running or not.
    pub(crate) fn remove(&self, id: &str) -> io::Result<u16> {
        self.request("DELETE", &format!("/containers/{id}?force=true&v=true"))
    }

    /// Sends a body-less request and returns the response's status code.
    fn request(&self, method: &str, path: &str) -> io::Result<u16> {
        let request = format!("{method} {path} HTTP/1.0\r\nHost: docker\r\n\r\n");
        let response = match self {
            Self::Unix(socket) => {
                let stream = UnixStream::connect(socket)?;
                stream.set_read_timeout(Some(TIMEOUT))?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                exchange(stream, &request)?
            }
            Self::Tcp { address, .. } => exchange(connect_tcp(address)?, &request)?,
        };
        parse_status(&response)
            .ok_or_else(|| io::Error::other("the answer is not HTTP: is this a Docker daemon?"))
    }
}

impl fmt::Display for DockerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp { address, .. } => write!(f, "tcp://{address}"),
        }
    }
}

fn connect_tcp(address: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::other(format!("{address} resolves to no address"));
    for addr in address.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => {
                stream.set_read_timeout(Some(TIMEOUT))?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn exchange(mut stream: impl Read + Write, request: &str) -> io::Result<String> {
    stream.write_all(request.as_bytes())?;
    // The status line is all we need; HTTP/1.0 makes the daemon close after.
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < head.len() {
        let n = stream.read(&mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
        if head[..filled].contains(&b'\n') {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&head[..filled]).into_owned())
}

fn parse_status(response: &str) -> Option<u16> {
    let line = response.lines().next()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

static CONTAINERS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

/// Removes the container when the process exits, however the test harness
/// ends it (`exit` runs `atexit` handlers; a kill does not, and
/// `.ci/run` sweeps by label for that case).
pub(crate) fn remove_at_exit(id: String) {
    CONTAINERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(id);
    AT_EXIT.call_once(|| {
        // SAFETY: `atexit` only records a function pointer; the handler is a
        // plain `extern "C" fn` that does not unwind.
        #[allow(unsafe_code)]
        unsafe {
            libc::atexit(remove_registered);
        }
    });
}

extern "C" fn remove_registered() {
    let ids = std::mem::take(
        &mut *CONTAINERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let docker = DockerEndpoint::from_env();
    for id in ids {
        // Nothing useful can be done with a failure this late; the label sweep
        // in `.ci/run` catches what is left.
        let _ = docker.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_status;

    #[test]
    fn reads_the_status_code_from_the_status_line() {
        assert_eq!(
            parse_status("HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\n"),
            Some(200)
        );
        assert_eq!(parse_status("HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status("SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(parse_status(""), None);
    }
}
