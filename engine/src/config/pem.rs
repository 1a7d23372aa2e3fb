//! The PEM checks Go's `tls.X509KeyPair` and `x509.CertPool.AppendCertsFromPEM` make
//! before any cryptography, with their error texts, so that a `tls` block naming a file
//! without the right blocks fails while the config is read, as in nats-server. Parsing the
//! DER inside is left to the frontend's TLS library.

use crate::prelude::*;

/// The type labels of the PEM blocks in `text` (`-----BEGIN LABEL-----` lines with a
/// matching `-----END LABEL-----` after them), in order.
pub(crate) fn block_labels(text: &str) -> Vec<&str> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(end_of_label) = after.find("-----") else {
            break;
        };
        let label = &after[..end_of_label];
        let body = &after[end_of_label + "-----".len()..];
        let end_line = format!("-----END {label}-----");
        match body.find(&end_line) {
            Some(end) if !label.contains('\n') => {
                labels.push(label);
                rest = &body[end + end_line.len()..];
            }
            _ => rest = body,
        }
    }
    labels
}

/// Go's check of a certificate chain input: at least one `CERTIFICATE` block.
pub(crate) fn check_certificate(text: &str) -> Result<(), String> {
    let labels = block_labels(text);
    if labels.is_empty() {
        return Err("tls: failed to find any PEM data in certificate input".to_string());
    }
    if labels.contains(&"CERTIFICATE") {
        return Ok(());
    }
    if let [only] = labels[..] {
        if only.ends_with("PRIVATE KEY") {
            return Err("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched".to_string());
        }
    }
    Err(format!(
        "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [{}]",
        labels.join(" ")
    ))
}

/// Go's check of a private key input: a block whose type is `PRIVATE KEY` or ends in
/// ` PRIVATE KEY`.
pub(crate) fn check_private_key(text: &str) -> Result<(), String> {
    let labels = block_labels(text);
    if labels.is_empty() {
        return Err("tls: failed to find any PEM data in key input".to_string());
    }
    if labels
        .iter()
        .any(|l| *l == "PRIVATE KEY" || l.ends_with(" PRIVATE KEY"))
    {
        return Ok(());
    }
    if labels == ["CERTIFICATE"] {
        return Err(
            "tls: found a certificate rather than a key in the PEM for the private key".to_string(),
        );
    }
    Err(format!(
        "tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [{}]",
        labels.join(" ")
    ))
}

/// nats-server's check of `ca_file`: at least one certificate in it.
pub(crate) fn check_ca(text: &str) -> Result<(), String> {
    if block_labels(text).contains(&"CERTIFICATE") {
        Ok(())
    } else {
        Err("failed to parse root ca certificate".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";
    const EC_KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";

    #[test]
    fn labels_of_complete_blocks_only() {
        let text = format!("junk\n{CERT}between\n{EC_KEY}-----BEGIN X-----\nno end");
        assert_eq!(block_labels(&text), ["CERTIFICATE", "EC PRIVATE KEY"]);
        assert!(block_labels("").is_empty());
        assert!(block_labels("-----BEGIN CERTIFICATE-----\n").is_empty());
    }

    #[test]
    fn certificate_input_errors_are_gos() {
        assert_eq!(check_certificate(CERT), Ok(()));
        assert_eq!(
            check_certificate("subjectAltName=DNS:localhost\n"),
            Err("tls: failed to find any PEM data in certificate input".to_string())
        );
        assert_eq!(
            check_certificate(KEY),
            Err("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched".to_string())
        );
        assert_eq!(
            check_certificate(&format!("{KEY}{EC_KEY}")),
            Err("tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [PRIVATE KEY EC PRIVATE KEY]".to_string())
        );
    }

    #[test]
    fn key_input_errors_are_gos() {
        assert_eq!(check_private_key(KEY), Ok(()));
        assert_eq!(check_private_key(EC_KEY), Ok(()));
        assert_eq!(check_private_key(&format!("{CERT}{KEY}")), Ok(()));
        assert_eq!(
            check_private_key("nothing"),
            Err("tls: failed to find any PEM data in key input".to_string())
        );
        assert_eq!(
            check_private_key(CERT),
            Err(
                "tls: found a certificate rather than a key in the PEM for the private key"
                    .to_string()
            )
        );
        assert_eq!(
            check_private_key(&format!("{CERT}{CERT}")),
            Err("tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [CERTIFICATE CERTIFICATE]".to_string())
        );
    }

    #[test]
    fn ca_input_needs_a_certificate() {
        assert_eq!(check_ca(CERT), Ok(()));
        assert_eq!(
            check_ca(KEY),
            Err("failed to parse root ca certificate".to_string())
        );
    }
}
