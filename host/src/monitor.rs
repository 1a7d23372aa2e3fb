//! The HTTP monitoring listener, on any [`Runtime`]: reads a request head and lets the
//! engine answer it.

use crate::logger::Logger;
use crate::runtime::{self, Runtime};
use crate::{clock, process_stats};
use futures_io::AsyncRead;
use rnats_engine::monitor;
use rnats_engine::server::Server;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Largest request head accepted.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Bind the monitoring port on `http_host` and serve it in the background; returns the
/// bound address.
pub fn start<R: Runtime>(
    rt: &R,
    server: Arc<Server>,
    port: u16,
    log: Arc<Logger>,
) -> io::Result<SocketAddr> {
    let (listener, addr) = runtime::listen(rt, &server.options().http_host, port)?;
    let task_rt = rt.clone();
    rt.spawn(async move {
        let rt = task_rt;
        loop {
            match runtime::accept(&rt, &listener).await {
                Ok(conn) => rt.spawn(answer(rt.clone(), server.clone(), conn)),
                Err(e) => {
                    runtime::pause_after_accept_error(&rt, &log, &format!("monitor accept: {e}"))
                        .await
                }
            }
        }
    });
    Ok(addr)
}

/// Answer one HTTP request and close.
async fn answer<R: Runtime>(
    rt: R,
    server: Arc<Server>,
    (mut reader, mut writer, _peer): (R::Reader, R::Writer, SocketAddr),
) {
    let head = runtime::timeout(&rt, REQUEST_TIMEOUT, read_request_head(&mut reader)).await;
    let Some(Ok(head)) = head else {
        return;
    };
    let response = monitor::http_response(
        &server,
        &head,
        clock::now(),
        clock::unix_nanos(),
        &process_stats(),
    );
    let _ = runtime::write_all(&mut writer, &response).await;
    let _ = runtime::close(&mut writer).await;
}

/// Read until the blank line that ends an HTTP request head, the end of the stream, or
/// [`MAX_REQUEST_HEAD`] bytes, whichever comes first.
pub async fn read_request_head<Rd: AsyncRead + Unpin>(reader: &mut Rd) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        let n = runtime::read(reader, &mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(head)
}
