//! The HTTP upgrade, done by tokio-tungstenite over the accepted socket, with
//! nats-server's checks and answers: `Origin` checks answered with `403 Forbidden`, no
//! subprotocol, no extension (permessage-deflate is declined), `400`/`405` for requests that
//! are not WebSocket upgrades.

use futures_io::{AsyncRead, AsyncWrite};
use rnats_engine::websocket::OriginPolicy;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// What a successful upgrade tells about the client.
#[derive(Debug, Default)]
pub struct Upgraded {
    /// A valid IP address from `X-Forwarded-For`, which nats-server uses as the client's
    /// address (a proxy in front of the listener).
    pub forwarded_for: Option<IpAddr>,
}

/// Why an upgrade failed, for the log (nats-server: `<ip:port> - websocket handshake
/// error: <reason>`); `None` for failures it does not log (the client went away).
#[derive(Debug)]
pub struct Refused(pub Option<String>);

/// Run the server side of the upgrade on the two halves of an accepted socket. On
/// failure the client has been answered (an HTTP error status) when it could be.
pub async fn accept<Rd, Wr>(
    reader: &mut Rd,
    writer: &mut Wr,
    policy: &OriginPolicy,
) -> Result<Upgraded, Refused>
where
    Rd: AsyncRead + Unpin,
    Wr: AsyncWrite + Unpin,
{
    let mut upgraded = Upgraded::default();
    let mut origin_error: Option<String> = None;
    // tungstenite's callback signature returns the whole error response.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        let headers = request.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let origin = text("Origin")
            .filter(|o| !o.is_empty())
            .or_else(|| text("Sec-WebSocket-Origin"));
        if let Err(e) = policy.check(origin, text("Host")) {
            origin_error = Some(e);
            return Err(error_response(StatusCode::FORBIDDEN));
        }
        upgraded.forwarded_for = text("X-Forwarded-For").and_then(|ip| ip.trim().parse().ok());
        Ok(response)
    };
    let stream = Joined {
        reader: &mut *reader,
        writer: &mut *writer,
    };
    let result = tokio_tungstenite::accept_hdr_async(stream, callback).await;
    match result {
        Ok(_) => Ok(upgraded),
        Err(WsError::Http(_)) => Err(Refused(Some(format!(
            "origin not allowed: {}",
            origin_error.unwrap_or_default()
        )))),
        // The client went away before finishing its request.
        Err(
            WsError::Io(_)
            | WsError::ConnectionClosed
            | WsError::AlreadyClosed
            | WsError::Protocol(ProtocolError::HandshakeIncomplete),
        ) => Err(Refused(None)),
        Err(WsError::Protocol(e)) => {
            let (status, reason) = match e {
                ProtocolError::WrongHttpMethod => {
                    (StatusCode::METHOD_NOT_ALLOWED, "request method must be GET")
                }
                ProtocolError::MissingUpgradeWebSocketHeader => (
                    StatusCode::BAD_REQUEST,
                    "invalid value for header 'Upgrade'",
                ),
                ProtocolError::MissingConnectionUpgradeHeader => (
                    StatusCode::BAD_REQUEST,
                    "invalid value for header 'Connection'",
                ),
                ProtocolError::MissingSecWebSocketKey | ProtocolError::InvalidSecWebSocketKey => {
                    (StatusCode::BAD_REQUEST, "key missing")
                }
                ProtocolError::MissingSecWebSocketVersionHeader => {
                    (StatusCode::BAD_REQUEST, "invalid version")
                }
                ProtocolError::JunkAfterRequest => (
                    StatusCode::BAD_REQUEST,
                    "client sent data before handshake is complete",
                ),
                _ => (StatusCode::BAD_REQUEST, "invalid request"),
            };
            let _ = write_all(writer, &error_bytes(status)).await;
            Err(Refused(Some(reason.to_string())))
        }
        Err(e) => {
            let _ = write_all(writer, &error_bytes(StatusCode::BAD_REQUEST)).await;
            Err(Refused(Some(e.to_string())))
        }
    }
}

/// An HTTP error answer as nats-server's (Go's `http.Error`): the status text as a
/// plain-text body.
fn error_response(status: StatusCode) -> ErrorResponse {
    let body = format!("{}\n", status.canonical_reason().unwrap_or(""));
    let mut response = ErrorResponse::new(Some(body.clone()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "Content-Type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("Sec-Websocket-Version", HeaderValue::from_static("13"));
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("Content-Length", HeaderValue::from(body.len()));
    headers.insert("Connection", HeaderValue::from_static("close"));
    response
}

/// [`error_response`] as bytes, for failures tungstenite does not answer itself.
fn error_bytes(status: StatusCode) -> Vec<u8> {
    let response = error_response(status);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in response.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(response.body().as_deref().unwrap_or("").as_bytes());
    out
}

async fn write_all<Wr: AsyncWrite + Unpin>(writer: &mut Wr, data: &[u8]) -> io::Result<()> {
    rnats_host::runtime::write_all(writer, data).await?;
    rnats_host::runtime::flush(writer).await
}

/// The two halves of the socket as one tokio stream, for tokio-tungstenite's handshake.
/// tungstenite stops reading once the request is complete (and refuses bytes that came
/// with it), so nothing meant for the frame decoder is left in its buffers.
struct Joined<'a, Rd, Wr> {
    reader: &'a mut Rd,
    writer: &'a mut Wr,
}

impl<Rd: AsyncRead + Unpin, Wr: Unpin> tokio::io::AsyncRead for Joined<'_, Rd, Wr> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut *this.reader).poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<Rd: Unpin, Wr: AsyncWrite + Unpin> tokio::io::AsyncWrite for Joined<'_, Rd, Wr> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().writer).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().writer).poll_close(cx)
    }
}
