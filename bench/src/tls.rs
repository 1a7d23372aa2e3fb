//! The TLS side of the load generator: rustls (ring) over the blocking socket, trusting one
//! CA (the repository's test CA by default). As nats-server does it, the server sends its
//! INFO in plain text and the client then starts TLS ([`crate::client::Conn::open`]).
//!
//! The generator stays cheap: publishers hand their pre-encoded ≈256 KiB batches to rustls
//! whole (one encryption pass, one `writev(2)` of the records), and subscribers read the
//! socket 256 KiB at a time ([`BufferedSocket`]): rustls reads at most one record (4 to
//! 16 KiB) per call, which straight on the socket would be a system call per record.
//! Encrypting and decrypting is the client's unavoidable cost.

use crate::client::BenchResult;
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CipherSuite, ClientConfig, ClientConnection, RootCertStore};
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The repository's test certificates (`ca.pem`, `server.pem`, `server.key`, see
/// `tests/certs/generate.sh`), where `compare` finds them unless `--certs` says otherwise.
pub fn default_certs_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/certs"));
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// Bytes of TLS records rustls may hold before they are written: a publisher's whole
/// batch, so it goes out in one `writev(2)`.
const SEND_BUFFER: usize = 512 * 1024;
/// Bytes read from the socket at once on the subscriber side.
const SOCKET_READ: usize = 256 * 1024;

/// What a TLS connection needs: the client configuration and the name the server's
/// certificate must carry.
#[derive(Clone, Debug)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsClient {
    /// A client trusting the certificates of the PEM file `ca`, expecting `server_name` (a
    /// DNS name or an IP address) in the server's certificate.
    ///
    /// AES-128-GCM is offered first, as Go clients do: nats-server (Go) picks it on
    /// hardware with AES instructions when the client lists an AES-GCM suite first, and
    /// rustls servers follow the client's order, so both servers under comparison settle
    /// on the same suite.
    pub fn new(ca: &Path, server_name: &str) -> BenchResult<TlsClient> {
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("CA file {}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("CA file {}: no certificate", ca.display()));
        }
        let mut provider = ring::default_provider();
        provider
            .cipher_suites
            .sort_by_key(|s| s.suite() != CipherSuite::TLS13_AES_128_GCM_SHA256);
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS client configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| format!("TLS server name {server_name:?}: {e}"))?;
        Ok(TlsClient {
            config: Arc::new(config),
            name,
        })
    }

    /// Runs the TLS handshake over `sock` (the server's INFO has been read in plain text),
    /// bounded by `deadline`.
    pub fn handshake(&self, sock: TcpStream, deadline: Instant) -> BenchResult<TlsStream> {
        let mut conn = ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|e| format!("TLS client: {e}"))?;
        conn.set_buffer_limit(Some(SEND_BUFFER));
        let mut sock = BufferedSocket {
            sock,
            buf: vec![0; SOCKET_READ].into_boxed_slice(),
            start: 0,
            end: 0,
        };
        let before = sock.sock.read_timeout().ok().flatten();
        while conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("TLS handshake: timed out".into());
            }
            sock.sock
                .set_read_timeout(Some(left))
                .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
            conn.complete_io(&mut sock)
                .map_err(|e| format!("TLS handshake: {e}"))?;
        }
        sock.sock
            .set_read_timeout(before)
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        Ok(TlsStream { conn, sock })
    }
}

/// An established TLS connection over a blocking socket.
pub struct TlsStream {
    conn: ClientConnection,
    sock: BufferedSocket,
}

impl TlsStream {
    /// The socket underneath (for timeouts and shutdown).
    pub fn socket(&self) -> &TcpStream {
        &self.sock.sock
    }

    /// The negotiated protocol version and cipher suite, e.g.
    /// `TLSv1_3 TLS13_AES_128_GCM_SHA256`.
    pub fn session(&self) -> String {
        let version = self
            .conn
            .protocol_version()
            .map_or("?".into(), |v| format!("{v:?}"));
        let suite = self
            .conn
            .negotiated_cipher_suite()
            .map_or("?".into(), |s| format!("{:?}", s.suite()));
        format!("{version} {suite}")
    }

    /// Encrypts all of `bytes` and writes the records.
    pub fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = self.conn.writer().write(bytes)?;
            bytes = &bytes[n..];
            self.flush_records()?;
        }
        Ok(())
    }

    fn flush_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads plaintext into `out`: what is decrypted already, then as many records as the
    /// bytes buffered from the socket complete, blocking (up to the socket's read timeout)
    /// only while it has nothing at all. `Ok(0)`: the server closed the connection.
    pub fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        loop {
            if n == out.len() {
                return Ok(n);
            }
            match self.conn.reader().read(&mut out[n..]) {
                Ok(0) => return Ok(n),
                Ok(k) => {
                    n += k;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Unexpected EOF: the caller gets it on its next read.
                Err(_) if n > 0 => return Ok(n),
                Err(e) => return Err(e),
            }
            // No plaintext left: more records are needed. Block for them only if there
            // is nothing to hand back yet.
            if n > 0 && self.sock.buffered() == 0 {
                return Ok(n);
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => return Ok(n),
                Ok(_) => {}
                Err(e) if n > 0 && is_timeout(&e) => return Ok(n),
                Err(e) => return Err(e),
            }
            let state = self.conn.process_new_packets();
            if self.conn.wants_write() {
                // An alert, or the answer to a key update.
                self.flush_records()?;
            }
            state.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The socket with a large read buffer in front (rustls reads at most a record at a
/// time); writes go straight through, vectored.
struct BufferedSocket {
    sock: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl BufferedSocket {
    /// Bytes read from the socket and not yet handed to rustls.
    fn buffered(&self) -> usize {
        self.end - self.start
    }
}

impl Read for BufferedSocket {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            if out.len() >= self.buf.len() {
                return self.sock.read(out);
            }
            self.end = self.sock.read(&mut self.buf)?;
            self.start = 0;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

impl Write for BufferedSocket {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.sock.write(bytes)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.sock.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
