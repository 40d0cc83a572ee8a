//! A TCP hop in front of a database that a test cuts and restores: an
//! outage as a service sees it (open connections closed, new ones closed at
//! once), without stopping a server other tests share.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// A running hop; dropping it stops it and closes its connections.
pub struct Cuttable {
    local: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
    accepting: JoinHandle<()>,
}

impl Cuttable {
    /// Starts a hop on a free loopback port in front of the server `url`
    /// names (`postgres://…` or `mongodb://…`).
    pub async fn in_front_of(url: &str) -> io::Result<Self> {
        let parsed = Url::parse(url).map_err(io::Error::other)?;
        let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = parsed
            .port()
            .ok_or_else(|| io::Error::other("the URL names no port"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let local = listener.local_addr()?;
        let (cut, _) = watch::channel(false);
        let cut = Arc::new(cut);
        let upstream = format!("{host}:{port}");
        let accepting = tokio::spawn(accept(listener, upstream, Arc::clone(&cut)));
        Ok(Self {
            local,
            cut,
            accepting,
        })
    }

    /// `url` with its host and port replaced by the hop's.
    pub fn url(&self, url: &str) -> String {
        let mut url = Url::parse(url).expect("the URL the hop was made for");
        url.set_host(Some("127.0.0.1")).expect("a URL with a host");
        url.set_port(Some(self.local.port()))
            .expect("a URL with a port");
        url.into()
    }

    /// Cuts: closes every open connection and every new one at once.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, upstream: String, cut: Arc<watch::Sender<bool>>) {
    while let Ok((inbound, _)) = listener.accept().await {
        if *cut.borrow() {
            drop(inbound);
            continue;
        }
        tokio::spawn(relay(inbound, upstream.clone(), cut.subscribe()));
    }
}

async fn relay(mut inbound: TcpStream, upstream: String, mut cut: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
}
