//! TLS for client connections, from a `tls { ... }` block (the top-level one for TCP
//! clients, the `websocket` block's for `wss://`): rustls with ring, over the runtime's
//! futures-io socket halves.
//!
//! The engine has read the certificate files and checked their PEM blocks while loading
//! the config; here the DER inside is parsed, and what only a TLS library can find wrong
//! (a key that does not belong to the certificate, a malformed certificate) stops the
//! server at startup.
//!
//! TLS needs both directions of the socket at once (a read may have to write, and the
//! other way round), so the two halves are joined for the handshake ([`Joined`]) and the
//! resulting stream is shared by the connection's reading and writing tasks
//! ([`split`]): each holds the lock only while polling, never across a wait.

use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::rustls::crypto::ring;
use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use futures_rustls::rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use futures_rustls::rustls::sign::CertifiedKey;
use futures_rustls::rustls::{self, RootCertStore, ServerConfig};
use futures_rustls::server::TlsStream;
use rnats_engine::options::TlsOptions;
use rnats_engine::server::TlsSession;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

pub use futures_rustls::TlsAcceptor;

/// The acceptor for a `tls` block, or the startup error (worded as nats-server's where it
/// has one). `what` names the listener in errors of rnats's own (`websocket`, `client`).
pub fn acceptor(tls: &TlsOptions, what: &str) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{what} TLS: {e}"))?;
    let builder = if tls.verify {
        let ca = tls.ca_pem.as_deref().ok_or_else(|| format!(
            "{what} TLS: 'verify' needs a 'ca_file' with the certificates clients must present (rnats does not use the system's)"
        ))?;
        let mut roots = RootCertStore::empty();
        for cert in certificates(ca).map_err(|_| "failed to parse root ca certificate")? {
            roots
                .add(cert)
                .map_err(|_| "failed to parse root ca certificate")?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("{what} TLS: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = match (&tls.cert_pem, &tls.key_pem) {
        (Some(cert), Some(key)) => {
            let pair_error = |e: String| format!("error parsing X509 certificate/key pair: {e}");
            let chain = certificates(cert).map_err(pair_error)?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| pair_error(format!("tls: failed to parse private key: {e}")))?;
            builder
                .with_single_cert(chain, key)
                .map_err(|e| pair_error(key_pair_error(e)))?
        }
        // As nats-server with an empty `tls {}`: the listener starts, every handshake fails.
        _ => builder.with_cert_resolver(Arc::new(NoCertificate)),
    };
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What `/connz` shows of an established session: the version as nats-server writes it
/// (`1.3`), the cipher suite by its IANA name as Go's `tls.CipherSuiteName` gives it
/// (rustls names TLS 1.3 suites `TLS13_…`).
pub fn session<S>(stream: &TlsStream<S>) -> TlsSession {
    let conn = stream.get_ref().1;
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
        _ => "",
    };
    let suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or_default();
    TlsSession {
        version: version.to_string(),
        cipher_suite: match suite.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => suite.to_string(),
        },
    }
}

/// The certificates of a PEM text.
fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls: failed to parse certificate: {e}"))
}

/// A certificate/key mismatch in Go's words, other errors in rustls's.
fn key_pair_error(e: rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => {
            "tls: private key does not match public key".to_string()
        }
        other => format!("tls: {other}"),
    }
}

/// The certificate "resolver" of a `tls` block without a certificate: none, so that every
/// handshake fails.
#[derive(Debug)]
struct NoCertificate;

impl ResolvesServerCert for NoCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        None
    }
}

/// The two halves of a socket as one stream, for the TLS handshake.
pub struct Joined<Rd, Wr> {
    reader: Rd,
    writer: Wr,
}

impl<Rd, Wr> Joined<Rd, Wr> {
    /// Join `reader` and `writer`, the halves of one socket.
    pub fn new(reader: Rd, writer: Wr) -> Self {
        Joined { reader, writer }
    }
}

impl<Rd: AsyncRead + Unpin, Wr: Unpin> AsyncRead for Joined<Rd, Wr> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl<Rd: Unpin, Wr: AsyncWrite + Unpin> AsyncWrite for Joined<Rd, Wr> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_close(cx)
    }
}

/// A client's first bytes, checked as Go's crypto/tls checks them before anything else:
/// they must start a handshake (or alert) record. Otherwise the read fails with Go's
/// error, and the client (say, one speaking plain NATS to a TLS port) gets the connection
/// closed without a word, as from nats-server, rather than a TLS alert from rustls.
pub struct FirstRecordCheck<Rd> {
    inner: Rd,
    checked: bool,
}

/// Bytes already read from a socket (while waiting to see whether the client starts
/// TLS), handed out again before the socket's.
pub struct Replay<Rd> {
    head: Vec<u8>,
    pos: usize,
    inner: Rd,
}

impl<Rd> Replay<Rd> {
    /// `head` first, then `inner`.
    pub fn new(head: Vec<u8>, inner: Rd) -> Self {
        Replay {
            head,
            pos: 0,
            inner,
        }
    }
}

impl<Rd: AsyncRead + Unpin> AsyncRead for Replay<Rd> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pos < this.head.len() {
            let n = buf.len().min(this.head.len() - this.pos);
            buf[..n].copy_from_slice(&this.head[this.pos..this.pos + n]);
            this.pos += n;
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

/// TLS record types a client may start with: handshake, alert.
const FIRST_RECORD_TYPES: [u8; 2] = [0x16, 0x15];

impl<Rd> FirstRecordCheck<Rd> {
    /// Check what `inner` reads first.
    pub fn new(inner: Rd) -> Self {
        FirstRecordCheck {
            inner,
            checked: false,
        }
    }
}

impl<Rd: AsyncRead + Unpin> AsyncRead for FirstRecordCheck<Rd> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if !this.checked && n > 0 {
            this.checked = true;
            if !FIRST_RECORD_TYPES.contains(&buf[0]) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "tls: first record does not look like a TLS handshake",
                )));
            }
        }
        Poll::Ready(Ok(n))
    }
}

/// An established TLS connection shared by its reading and writing halves.
type Shared<S> = Arc<Mutex<TlsStream<S>>>;

/// The reading half of a TLS stream (see [`split`]).
pub struct TlsReader<S> {
    stream: Shared<S>,
}

/// The writing half of a TLS stream (see [`split`]); closing it sends TLS's close_notify
/// and shuts down the socket's sending direction.
pub struct TlsWriter<S> {
    stream: Shared<S>,
}

/// Split an established TLS stream into halves for the connection's two tasks.
pub fn split<S>(stream: TlsStream<S>) -> (TlsReader<S>, TlsWriter<S>) {
    let stream = Arc::new(Mutex::new(stream));
    (
        TlsReader {
            stream: stream.clone(),
        },
        TlsWriter { stream },
    )
}

/// The stream, also after a panic elsewhere while it was locked (its state is rustls's,
/// which stays consistent: the connection then just fails).
fn lock<S>(stream: &Shared<S>) -> MutexGuard<'_, TlsStream<S>> {
    stream
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsReader<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.stream)).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsWriter<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.stream)).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.stream)).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.stream)).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.stream)).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as the engine hands it over: the test certificates' texts.
    fn block(cert: &str, key: &str, verify: bool) -> TlsOptions {
        let read = |name: &str| {
            let path = format!("{}/../tests/certs/{name}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        TlsOptions {
            cert_pem: Some(read(cert)),
            key_pem: Some(read(key)),
            ca_pem: verify.then(|| read("ca.pem")),
            verify,
            ..TlsOptions::default()
        }
    }

    #[test]
    fn the_test_certificates_make_an_acceptor() {
        assert!(acceptor(&block("server.pem", "server.key", false), "client").is_ok());
        assert!(acceptor(&block("server.pem", "server.key", true), "client").is_ok());
        // An empty block too (every handshake then fails, as in nats-server).
        assert!(acceptor(&TlsOptions::default(), "client").is_ok());
    }

    #[test]
    fn a_key_of_another_certificate_is_gos_error() {
        let e = acceptor(&block("server.pem", "client.key", false), "client").err();
        assert_eq!(
            e.as_deref(),
            Some("error parsing X509 certificate/key pair: tls: private key does not match public key")
        );
    }

    #[test]
    fn a_first_record_that_is_not_tls_fails_the_read() {
        let read_all = |bytes: &'static [u8]| {
            let mut reader = FirstRecordCheck::new(bytes);
            let mut buf = [0u8; 16];
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            let mut results = Vec::new();
            loop {
                match Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
                    Poll::Ready(Ok(0)) => return results,
                    Poll::Ready(r) => results.push(r.map_err(|e| e.to_string())),
                    Poll::Pending => unreachable!("a slice is always ready"),
                }
            }
        };
        assert_eq!(read_all(b"\x16\x03\x01\x00\x05hello"), [Ok(10)]);
        assert_eq!(read_all(b"\x15\x03\x03\x00\x02\x02\x32"), [Ok(7)]);
        assert_eq!(
            read_all(b"CONNECT {}\r\n"),
            [Err(
                "tls: first record does not look like a TLS handshake".to_string()
            )]
        );
    }

    #[test]
    fn replay_hands_out_the_head_first() {
        let mut reader = Replay::new(b"abc".to_vec(), &b"def"[..]);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut got = Vec::new();
        let mut buf = [0u8; 2];
        while let Poll::Ready(Ok(n @ 1..)) = Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"abcdef");
    }

    #[test]
    fn verify_needs_a_ca_file() {
        let mut tls = block("server.pem", "server.key", true);
        tls.ca_pem = None;
        let e = acceptor(&tls, "client").err().unwrap_or_default();
        assert!(e.contains("'verify' needs a 'ca_file'"), "{e}");
    }
}
