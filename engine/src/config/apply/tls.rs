//! A `tls { ... }` block, as nats-server's `parseTLS` and `GenTLSConfig` read it: the
//! fields, then the certificate files (read through the [`ConfigSource`], checked for
//! the right PEM blocks), with nats-server's messages and positions.

use super::{go_quote, Applier};
use crate::config::duration::parse_go_duration;
use crate::config::parse::{Token, Value};
use crate::config::pem;
use crate::config::{ConfigSource, WarningKind};
use crate::options::{HandshakeFirst, TlsOptions, DEFAULT_HANDSHAKE_FIRST_FALLBACK};
use crate::prelude::*;
use core::time::Duration;

/// Fields that change which peers are trusted. Ignoring them would let in clients the
/// configuration means to keep out, so rnats refuses to start rather than warn.
const REFUSED: &[&str] = &[
    "verify_and_map",
    "verify_cert_and_check_known_urls",
    "pinned_certs",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "cert_match_skip_invalid",
    "ca_certs_match",
    "ocsp_peer",
    "certs",
];

/// Fields that only tune the handshake: accepted with a warning (the TLS library's safe
/// defaults apply: TLS 1.2 and 1.3, its own cipher suites and curves).
const IGNORED: &[&str] = &[
    "cipher_suites",
    "curve_preferences",
    "min_version",
    "insecure",
];

impl Applier<'_> {
    /// The `tls` entry `tk` of a block; `None` after an error (reported).
    pub(super) fn tls_block(&mut self, tk: &Token) -> Option<TlsOptions> {
        let m = self.map(tk)?;
        let mut tls = TlsOptions::default();
        for (k, v) in m {
            let key = k.to_ascii_lowercase();
            let filename = |this: &mut Self| match &v.value {
                Value::Str(s) => Some(s.to_string()),
                _ => {
                    let msg = format!("error parsing tls config, expected '{key}' to be filename");
                    this.err(v, msg);
                    None
                }
            };
            match key.as_str() {
                "cert_file" => tls.cert_file = Some(filename(self)?),
                "key_file" => tls.key_file = Some(filename(self)?),
                "ca_file" => tls.ca_file = Some(filename(self)?),
                "verify" => match v.value {
                    Value::Bool(b) => tls.verify = b,
                    _ => {
                        self.err(
                            v,
                            "error parsing tls config, expected 'verify' to be a boolean",
                        );
                        return None;
                    }
                },
                "timeout" => {
                    let secs = match &v.value {
                        Value::Int(i) => *i as f64,
                        Value::Float(f) => *f,
                        Value::Str(s) => match parse_go_duration(s) {
                            Ok(nanos) => nanos as f64 / 1e9,
                            Err(e) => {
                                self.err(v, format!("error parsing tls config, 'timeout' {e}"));
                                return None;
                            }
                        },
                        _ => 0.0,
                    };
                    tls.timeout = (secs > 0.0)
                        .then(|| Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
                }
                "handshake_first" | "first" | "immediate" => {
                    tls.handshake_first = self.handshake_first(&key, v)?;
                }
                k if REFUSED.contains(&k) => {
                    let msg = format!(
                        "error parsing tls config, {} is not supported by rnats yet",
                        go_quote(k)
                    );
                    self.err(v, msg);
                    return None;
                }
                k if IGNORED.contains(&k) => {
                    let msg = format!(
                        "field {} is not supported by rnats yet and was ignored",
                        go_quote(k)
                    );
                    self.warn(v, k, WarningKind::Unsupported, msg);
                }
                _ => {
                    let msg = format!("error parsing tls config, unknown field [{}]", go_quote(k));
                    self.err(v, msg);
                    return None;
                }
            }
        }
        if let Err(e) = load_tls_files(&mut tls, self.source) {
            self.err(tk, e);
            return None;
        }
        Some(tls)
    }
}

impl Applier<'_> {
    /// `handshake_first`: a boolean, `auto`, or the fallback delay as a duration.
    fn handshake_first(&mut self, key: &str, v: &Token) -> Option<HandshakeFirst> {
        let value = match &v.value {
            Value::Bool(true) => return Some(HandshakeFirst::On),
            Value::Bool(false) => return Some(HandshakeFirst::Off),
            Value::Str(s) => s.to_ascii_lowercase(),
            other => {
                let msg = format!(
                    "field {} should be a boolean or a string, got {}",
                    go_quote(key),
                    other.go_type()
                );
                self.err(v, msg);
                return None;
            }
        };
        match value.as_str() {
            "true" | "on" => Some(HandshakeFirst::On),
            "false" | "off" => Some(HandshakeFirst::Off),
            "auto" | "auto_fallback" => {
                Some(HandshakeFirst::Fallback(DEFAULT_HANDSHAKE_FIRST_FALLBACK))
            }
            text => match parse_go_duration(text) {
                Ok(nanos) if nanos > 0 => {
                    Some(HandshakeFirst::Fallback(Duration::from_nanos(nanos as u64)))
                }
                _ => {
                    let msg = format!(
                        "field {}'s value {} is invalid",
                        go_quote(key),
                        go_quote(text)
                    );
                    self.err(v, msg);
                    None
                }
            },
        }
    }
}

/// Read the files `tls` names through `source` and check them, as nats-server's
/// `GenTLSConfig` does, with its messages: the certificate/key pair (both or neither),
/// then `ca_file`.
pub(crate) fn load_tls_files(
    tls: &mut TlsOptions,
    source: &dyn ConfigSource,
) -> Result<(), String> {
    let read_checked = |path: &str, check: fn(&str) -> Result<(), String>| {
        let text = source.read_file(path)?;
        check(&text)?;
        Ok::<_, String>(text)
    };
    match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => return Err("missing 'key_file' in TLS configuration".to_string()),
        (None, Some(_)) => return Err("missing 'cert_file' in TLS configuration".to_string()),
        (Some(cert), Some(key)) => {
            let pair = read_checked(cert, pem::check_certificate)
                .and_then(|c| Ok((c, read_checked(key, pem::check_private_key)?)))
                .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
            tls.cert_pem = Some(pair.0);
            tls.key_pem = Some(pair.1);
        }
        (None, None) => {}
    }
    if let Some(ca) = &tls.ca_file {
        tls.ca_pem = Some(read_checked(ca, pem::check_ca)?);
    }
    Ok(())
}
