//! The HTTP monitoring listener: reads a request head, lets the engine answer it.

use rnats_engine::monitor;
use rnats_engine::server::Server;
use rnats_host::logger::Logger;
use rnats_host::{clock, process_stats};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head accepted.
const MAX_REQUEST: usize = 16 * 1024;

/// Bind the monitoring port and serve it in the background.
pub async fn start(
    server: Arc<Server>,
    port: u16,
    log: Arc<Logger>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((server.options().http_host.as_str(), port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(answer(server.clone(), stream));
                }
                Err(e) => {
                    log.error(&format!("monitor accept: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    });
    Ok(addr)
}

async fn answer(server: Arc<Server>, mut stream: TcpStream) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        return;
    }
    let response = monitor::http_response(
        &server,
        &head,
        clock::now(),
        clock::unix_nanos(),
        &process_stats(),
    );
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}
