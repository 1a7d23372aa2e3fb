//! One client connection on tokio: a read loop feeding the engine and a write loop
//! draining it with vectored writes.

use crate::peer_addr;
use bytes::{Buf, Bytes, BytesMut};
use rnats_engine::server::{CloseReason, ConnShared, Connection, Server, WriteEvent};
use rnats_host::clock;
use rnats_host::logger::Logger;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Smallest read buffer; it grows while reads fill it, up to [`MAX_READ_BUFFER`].
const MIN_READ_BUFFER: usize = 512;
/// Largest read buffer.
const MAX_READ_BUFFER: usize = 64 * 1024;
/// Most slices handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Serve one accepted socket until it closes.
pub async fn serve(server: Arc<Server>, stream: TcpStream, peer: SocketAddr, log: Arc<Logger>) {
    let _ = stream.set_nodelay(true);
    let mut conn = server.accept(peer_addr(peer), clock::now());
    let shared = conn.shared().clone();
    let (reader, writer) = stream.into_split();
    let write_deadline = server.options().write_deadline;
    let write_task = tokio::spawn(write_loop(shared.clone(), writer, write_deadline));
    let reason = read_loop(&mut conn, reader).await;
    if log.debug_enabled() {
        log.debug(&format!(
            "{}:{} - cid:{} - Client connection closed: {}",
            peer.ip(),
            peer.port(),
            conn.id(),
            reason.as_str()
        ));
    }
    conn.close(reason);
    let _ = write_task.await;
}

async fn read_loop(conn: &mut Connection, mut reader: OwnedReadHalf) -> CloseReason {
    let shared = conn.shared().clone();
    let mut buf = BytesMut::with_capacity(MIN_READ_BUFFER);
    let mut want = MIN_READ_BUFFER;
    loop {
        if buf.capacity() - buf.len() < want / 2 {
            buf.reserve(want);
        }
        let deadline = conn.poll_timeout();
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(clock::to_std(at).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => return CloseReason::ClientClosed,
                Ok(n) => {
                    if n >= want && want < MAX_READ_BUFFER {
                        want *= 2;
                    } else if n < want / 4 && want > MIN_READ_BUFFER {
                        want /= 2;
                    }
                    if !conn.handle_bytes(&mut buf, clock::now()) {
                        return closed_reason(&shared).await;
                    }
                }
                Err(_) => return CloseReason::ReadError,
            },
            () = timer => conn.handle_timeout(clock::now()),
            reason = poll_fn(|cx| shared.poll_closed(cx)) => return reason,
        }
    }
}

async fn closed_reason(shared: &ConnShared) -> CloseReason {
    poll_fn(|cx| shared.poll_closed(cx)).await
}

async fn write_loop(shared: Arc<ConnShared>, mut writer: OwnedWriteHalf, deadline: Duration) {
    let mut chunks: VecDeque<Bytes> = VecDeque::new();
    loop {
        let event = poll_fn(|cx| shared.poll_write(cx, &mut chunks)).await;
        if !chunks.is_empty() {
            match tokio::time::timeout(deadline, write_all(&mut writer, &mut chunks)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    shared.close(CloseReason::ReadError);
                    return;
                }
                Err(_) => {
                    shared.close(CloseReason::SlowConsumerWriteDeadline);
                    return;
                }
            }
        }
        if let WriteEvent::Closed(_) = event {
            let _ = writer.shutdown().await;
            return;
        }
    }
}

/// Write every chunk, many per system call.
async fn write_all(
    writer: &mut OwnedWriteHalf,
    chunks: &mut VecDeque<Bytes>,
) -> std::io::Result<()> {
    while !chunks.is_empty() {
        let n = {
            let slices: Vec<IoSlice<'_>> = chunks
                .iter()
                .take(MAX_IOVECS)
                .map(|c| IoSlice::new(c))
                .collect();
            writer.write_vectored(&slices).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        advance(chunks, n);
    }
    Ok(())
}

fn advance(chunks: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = chunks.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            chunks.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}
