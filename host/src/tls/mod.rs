//! TLS for client connections, from a `tls { ... }` block (the top-level one for TCP
//! clients, the `websocket` block's for `wss://`): rustls with ring, over the runtime's
//! futures-io socket halves.
//!
//! The engine has read the certificate files and checked their PEM blocks while loading
//! the config; [`acceptor`] parses the DER inside, and what only a TLS library can find
//! wrong (a key that does not belong to the certificate, a malformed certificate) stops
//! the server at startup. The byte-stream adapters around the handshake ([`Joined`],
//! [`split`], ...) are in the `stream` submodule.

mod stream;

pub use stream::{split, FirstRecordCheck, Joined, Replay, TlsReader, TlsWriter};

use crate::logger::Logger;
use futures_rustls::rustls::crypto::ring;
use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use futures_rustls::rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use futures_rustls::rustls::sign::CertifiedKey;
use futures_rustls::rustls::{self, RootCertStore, ServerConfig};
use futures_rustls::server::TlsStream;
use rnats_engine::options::{Options, TlsOptions};
use rnats_engine::server::{Server, TlsSession};
use std::sync::Arc;

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

/// Which `tls` block of the options a listener serves.
pub type TlsBlock = fn(&Options) -> Option<&TlsOptions>;

/// A listener's TLS acceptor, kept in step with the configuration: after a reload (the
/// server's configuration generation moved) the next connection gets one built from the
/// block as it is now, so new certificates serve new connections, as in nats-server. A
/// block the TLS library rejects then is logged and the previous certificates stay.
pub struct ListenerTls {
    acceptor: TlsAcceptor,
    block: TlsBlock,
    what: &'static str,
    /// The configuration generation `acceptor` was built for.
    generation: u64,
}

impl ListenerTls {
    /// The acceptor for `block` of `options` (none when the listener has no TLS), or the
    /// startup error. `what` names the listener in messages (`client`, `websocket`).
    pub fn new(
        options: &Options,
        block: TlsBlock,
        what: &'static str,
    ) -> Result<Option<ListenerTls>, String> {
        let Some(tls) = block(options) else {
            return Ok(None);
        };
        Ok(Some(ListenerTls {
            acceptor: acceptor(tls, what)?,
            block,
            what,
            // A server starts at generation 0.
            generation: 0,
        }))
    }

    /// The acceptor for the next connection of `server`.
    pub fn current(&mut self, server: &Server, log: &Logger) -> TlsAcceptor {
        let generation = server.config_generation();
        if generation != self.generation {
            self.generation = generation;
            match (self.block)(&server.options()).map(|t| acceptor(t, self.what)) {
                Some(Ok(fresh)) => self.acceptor = fresh,
                Some(Err(e)) => log.error(&format!("Config reload: {} TLS kept: {e}", self.what)),
                None => {}
            }
        }
        self.acceptor.clone()
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
    fn verify_needs_a_ca_file() {
        let mut tls = block("server.pem", "server.key", true);
        tls.ca_pem = None;
        let e = acceptor(&tls, "client").err().unwrap_or_default();
        assert!(e.contains("'verify' needs a 'ca_file'"), "{e}");
    }
}
