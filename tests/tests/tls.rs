//! TLS on the client port: the top-level `tls {}` block (`cert_file`, `key_file`,
//! `ca_file`, `verify`, `timeout`) and the `--tls`, `--tlscert`, `--tlskey`, `--tlsverify`,
//! `--tlscacert` flags, of nats-server 2.9.10 and of every rnats frontend, with the test
//! certificates of `tests/certs/`.
//!
//! * async-nats over `tls://`: publish/subscribe, request/reply, headers, a 200 kB
//!   message; clients reached by name, by address and through an upgraded `nats://` URL
//!   share one subject space.
//! * The wire: the server sends its `INFO` in plain text (with `tls_required`, and
//!   `tls_verify` under `verify`), then the client starts TLS and the protocol goes on
//!   inside it with no second `INFO`. A client that answers in plain text is closed without
//!   a byte; one that says nothing is closed after the block's `timeout`.
//! * A handshake that fails costs only that connection: the server keeps serving everyone
//!   else. `verify: true` with `ca_file` asks for a client certificate signed by that CA.
//! * The startup log line, the `/varz` fields (the default auth timeout becomes the TLS
//!   timeout plus one second), and the `INFO` that WebSocket clients get while the client
//!   port requires TLS.
//! * The flags: which combinations start a TLS server, that they replace the config file's
//!   block, and nats-server's errors for the others.
//! * Bad `tls` blocks are rejected at startup with nats-server's exit code and message,
//!   position included.
//! * `/connz` shows each TLS client's `tls_version` and `tls_cipher_suite`.
//! * `handshake_first` (nats-server 2.10, so rnats only): TLS before anything, the `INFO`
//!   inside it; with a fallback delay, classic clients too.
//!
//! Runs on the TCP servers ([`rnats_tests::for_each_tcp_server`]), which is every binary
//! once: each test picks its listener itself.

mod support;

use support::{barrier, connect, next, reaches, refused, try_connect, with_client_cert, T};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::rustls;
use async_nats::ConnectOptions;
use bytes::Bytes;
use rnats_tests::{
    cert_path, for_each_tcp_server, for_each_tcp_server_async, free_port, http_get_json,
    run_server_command, show, wait_for, RawClient, ServerConfig, ServerKind, TempDir, TestServer,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::time::timeout;

/// A top-level `tls` block with the test server certificate; `extra` goes into the block
/// (e.g. [`verify`] or `timeout: 0.5`).
fn tls_block(extra: &str) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  {extra}\n}}\n",
        cert_path("server.pem"),
        cert_path("server.key"),
    )
}

/// `ca_file` and `verify: true`, for [`tls_block`].
fn verify() -> String {
    format!("ca_file: \"{}\"\n  verify: true", cert_path("ca.pem"))
}

fn start_tls(kind: ServerKind, extra: &str) -> TestServer {
    TestServer::start(kind, ServerConfig::config(tls_block(extra)))
}

/// The flags that enable TLS with the test server certificate.
fn cert_flags() -> Vec<String> {
    vec![
        "--tlscert".into(),
        cert_path("server.pem"),
        "--tlskey".into(),
        cert_path("server.key"),
    ]
}

// ---------------------------------------------------------------------------------------
// async-nats
// ---------------------------------------------------------------------------------------

/// async-nats options that trust the test CA and insist on TLS.
fn trusting() -> ConnectOptions {
    support::trusting().require_tls(true)
}

#[test]
fn tls_pub_sub_request_reply_headers() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_tls(kind, "");
        let url = server.tls_url();
        let a = connect(kind, &url, trusting()).await;
        let b = connect(kind, &url, trusting()).await;
        let info = a.server_info();
        assert!(info.tls_required, "[{kind}] INFO.tls_required");
        assert!(info.headers, "[{kind}] INFO.headers over TLS");
        assert_eq!(info.max_payload, 1024 * 1024, "[{kind}] INFO.max_payload");

        support::pub_sub_request_headers(kind, &a, &b, "tls").await;
        server.assert_running();
    });
}

#[test]
fn tls_clients_share_subjects() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_tls(kind, "");
        // By name (SNI localhost) and by address (the certificate names 127.0.0.1 too).
        let by_name = connect(kind, &server.tls_url(), trusting()).await;
        let by_ip_url = format!("tls://127.0.0.1:{}", server.port());
        let by_ip = connect(kind, &by_ip_url, trusting()).await;
        // A nats:// URL without require_tls: async-nats starts TLS because INFO asks for it.
        let upgraded_url = format!("nats://localhost:{}", server.port());
        let upgraded_opts = ConnectOptions::new().add_root_certificates(cert_path("ca.pem").into());
        let upgraded = connect(kind, &upgraded_url, upgraded_opts).await;
        reaches(kind, &by_name, &by_ip, "share.name.to.ip").await;
        reaches(kind, &by_ip, &by_name, "share.ip.to.name").await;
        reaches(kind, &upgraded, &by_name, "share.upgraded.to.name").await;
        reaches(kind, &by_ip, &upgraded, "share.ip.to.upgraded").await;

        // A request from one client answered by another.
        let mut service = by_ip.subscribe("share.service").await.unwrap();
        barrier(&by_ip).await;
        let request = by_name.request("share.service", Bytes::from_static(b"q"));
        let answer = async {
            let m = next(&mut service).await;
            by_ip
                .publish(m.reply.unwrap(), Bytes::from_static(b"a"))
                .await
                .unwrap();
        };
        let (reply, ()) = tokio::join!(timeout(T, request), answer);
        let reply = reply.expect("request timed out").unwrap();
        assert_eq!(reply.payload.as_ref(), b"a", "[{kind}]");
    });
}

#[test]
fn tls_failed_handshakes_leave_the_server_serving() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_tls(kind, "");
        let a = connect(kind, &server.tls_url(), trusting()).await;
        let b = connect(kind, &server.tls_url(), trusting()).await;

        // A client that does not trust the test CA refuses the server's certificate, over
        // tls:// and over a nats:// URL (upgraded because INFO asks for TLS).
        refused(
            kind,
            &server.tls_url(),
            ConnectOptions::new(),
            "tls:// without the test CA",
        )
        .await;
        refused(
            kind,
            &server.url(),
            ConnectOptions::new(),
            "nats:// without the test CA",
        )
        .await;
        // Raw garbage that looks like the start of a TLS record, and a client that leaves
        // after the INFO.
        let mut junk = RawClient::connect_port(server.port());
        let _ = junk.try_send(b"\x16\x03\x01\x00\x05hello, not TLS\r\n\r\n");
        drop(junk);
        drop(RawClient::connect_port(server.port()));

        server.assert_running();
        reaches(kind, &a, &b, "after.failed.handshakes").await;
        let c = connect(kind, &server.tls_url(), trusting()).await;
        reaches(kind, &c, &a, "after.failed.handshakes.new").await;
    });
}

#[test]
fn tls_verify_requires_a_client_certificate() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_tls(kind, &verify());
        let url = server.tls_url();
        // Connected before the failures below; must not notice them.
        let early = connect(kind, &url, with_client_cert(trusting())).await;

        refused(
            kind,
            &url,
            trusting(),
            "verify: true, no client certificate",
        )
        .await;
        // server.pem is signed by the CA but is for servers only (extendedKeyUsage
        // serverAuth), which a verifying server must refuse as a client certificate.
        let server_cert = trusting().add_client_certificate(
            cert_path("server.pem").into(),
            cert_path("server.key").into(),
        );
        refused(
            kind,
            &url,
            server_cert,
            "a serverAuth-only client certificate",
        )
        .await;
        server.assert_running();

        let a = connect(kind, &url, with_client_cert(trusting())).await;
        let b = connect(kind, &url, with_client_cert(trusting())).await;
        let info = RawClient::connect_port(server.port()).info().clone();
        assert_eq!(info["tls_verify"], true, "[{kind}] INFO: {info}");
        reaches(kind, &a, &b, "verify.a.to.b").await;
        reaches(kind, &early, &a, "verify.early.to.a").await;
        // Stays refused: the failures changed nothing.
        refused(kind, &url, trusting(), "verify: true, again").await;
        server.assert_running();

        // ca_file without verify: no client certificate is asked for.
        let lenient = start_tls(kind, &format!("ca_file: \"{}\"", cert_path("ca.pem")));
        let c = connect(kind, &lenient.tls_url(), trusting()).await;
        let d = connect(kind, &lenient.tls_url(), with_client_cert(trusting())).await;
        let info = RawClient::connect_port(lenient.port()).info().clone();
        assert!(no_tls_verify(&info), "[{kind}] INFO: {info}");
        reaches(kind, &c, &d, "ca.without.verify").await;
    });
}

// ---------------------------------------------------------------------------------------
// The wire
// ---------------------------------------------------------------------------------------

/// A rustls client config trusting the test CA, presenting `client.pem` if `client_cert`.
fn rustls_config(client_cert: bool) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_path("ca.pem")).expect("read ca.pem") {
        roots.add(cert.expect("parse ca.pem")).expect("add ca.pem");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let config = if client_cert {
        let chain = CertificateDer::pem_file_iter(cert_path("client.pem"))
            .expect("read client.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse client.pem");
        let key = PrivateKeyDer::from_pem_file(cert_path("client.key")).expect("client.key");
        builder
            .with_client_auth_cert(chain, key)
            .expect("client certificate")
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(config)
}

/// A raw NATS connection inside TLS, started the way nats-server 2.9.10 expects: the
/// plain-text `INFO` first (read by a [`RawClient`]), then the TLS handshake on the same
/// socket.
struct RawTls {
    kind: ServerKind,
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl RawTls {
    /// Connects, reads the plain-text INFO, completes the TLS handshake (as `localhost`).
    fn connect(kind: ServerKind, port: u16, client_cert: bool) -> (Value, RawTls) {
        let plain = RawClient::connect_port(port);
        let info = plain.info().clone();
        let mut socket = plain.stream().try_clone().expect("clone the socket");
        socket.set_read_timeout(Some(T)).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = rustls::ClientConnection::new(rustls_config(client_cert), name)
            .expect("client connection");
        while conn.is_handshaking() {
            conn.complete_io(&mut socket)
                .unwrap_or_else(|e| panic!("[{kind}] TLS handshake after INFO: {e}"));
        }
        let stream = rustls::StreamOwned::new(conn, socket);
        (info, RawTls { kind, stream })
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .unwrap_or_else(|e| panic!("[{}] writing over TLS: {e}", self.kind));
    }

    /// Sends `bytes` + `PING` and returns everything up to and including the `PONG`.
    fn roundtrip(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut msg = bytes.to_vec();
        msg.extend_from_slice(b"PING\r\n");
        self.send(&msg);
        let deadline = Instant::now() + T;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"PONG\r\n") {
            assert!(
                Instant::now() < deadline,
                "[{}] no PONG over TLS; got \"{}\"",
                self.kind,
                show(&got)
            );
            match self.stream.read(&mut buf) {
                Ok(0) => panic!(
                    "[{}] closed over TLS before PONG; got \"{}\"",
                    self.kind,
                    show(&got)
                ),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!(
                    "[{}] reading over TLS: {e}; got \"{}\"",
                    self.kind,
                    show(&got)
                ),
            }
        }
        got
    }
}

/// `INFO.tls_verify` is left out (or false) unless the server verifies clients.
fn no_tls_verify(info: &Value) -> bool {
    info.get("tls_verify").is_none() || info["tls_verify"] == false
}

#[test]
fn tls_info_in_plain_text_then_the_protocol_inside_tls() {
    for_each_tcp_server(|kind| {
        let server = start_tls(kind, &verify());
        let c = RawClient::connect_port(server.port());
        let info = c.info();
        assert_eq!(info["tls_required"], true, "[{kind}] INFO: {info}");
        assert_eq!(info["tls_verify"], true, "[{kind}] INFO: {info}");
        assert_eq!(info["headers"], true, "[{kind}] INFO: {info}");
        assert_eq!(info["max_payload"], 1_048_576, "[{kind}] INFO: {info}");
        assert_eq!(
            info["port"].as_u64(),
            Some(server.port() as u64),
            "[{kind}] INFO: {info}"
        );
        drop(c);

        // After the handshake: no second INFO, the protocol byte for byte.
        let (info, mut a) = RawTls::connect(kind, server.port(), true);
        assert_eq!(info["tls_required"], true, "[{kind}] INFO: {info}");
        let out = a.roundtrip(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
        assert_eq!(show(&out), "PONG\\r\\n", "[{kind}] CONNECT + PING over TLS");
        let out = a.roundtrip(b"SUB raw.tls 1\r\nPUB raw.tls 5\r\nhello\r\n");
        assert_eq!(
            show(&out),
            "MSG raw.tls 1 5\\r\\nhello\\r\\nPONG\\r\\n",
            "[{kind}] SUB + PUB over TLS"
        );
        let (_, mut b) = RawTls::connect(kind, server.port(), true);
        let out = b.roundtrip(
            b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB raw.tls 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        );
        assert_eq!(show(&out), "PONG\\r\\n", "[{kind}] HPUB over TLS");
        let out = a.roundtrip(b"");
        assert_eq!(
            show(&out),
            "HMSG raw.tls 1 12 14\\r\\nNATS/1.0\\r\\n\\r\\nhi\\r\\nPONG\\r\\n",
            "[{kind}] HMSG over TLS"
        );

        // Without verify: no tls_verify.
        let lenient = start_tls(kind, "");
        let c = RawClient::connect_port(lenient.port());
        assert_eq!(
            c.info()["tls_required"],
            true,
            "[{kind}] INFO: {}",
            c.info()
        );
        assert!(no_tls_verify(c.info()), "[{kind}] INFO: {}", c.info());
        let (_, mut d) = RawTls::connect(kind, lenient.port(), false);
        let out = d.roundtrip(b"CONNECT {\"verbose\":false}\r\n");
        assert_eq!(
            show(&out),
            "PONG\\r\\n",
            "[{kind}] no verify, no certificate"
        );
    });
}

/// Waits for the log line `127.0.0.1:<client_port> - cid:<n> - TLS handshake ...` that
/// tells why that client was closed.
#[track_caller]
fn wait_for_handshake_error(server: &TestServer, client_port: u16) {
    let prefix = format!("127.0.0.1:{client_port} - cid:");
    let deadline = Instant::now() + T;
    loop {
        let log = server.log();
        let told = log.lines().any(|line| {
            line.split_once(&prefix)
                .and_then(|(_, rest)| rest.split_once(" - "))
                .is_some_and(|(_, why)| why.starts_with("TLS handshake "))
        });
        if told {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "[{}] want a log line `{prefix}<n> - TLS handshake ...`; log:\n{log}",
            server.kind()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tls_plain_text_after_info_is_closed_without_a_byte() {
    for_each_tcp_server(|kind| {
        let server = start_tls(kind, "");
        let mut c = RawClient::connect_port(server.port());
        let client_port = c.stream().local_addr().unwrap().port();
        c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n");
        c.expect_silent_close();
        wait_for_handshake_error(&server, client_port);

        server.assert_running();
        let (_, mut a) = RawTls::connect(kind, server.port(), false);
        let out = a.roundtrip(b"CONNECT {\"verbose\":false}\r\n");
        assert_eq!(show(&out), "PONG\\r\\n", "[{kind}] a TLS client afterwards");
    });
}

#[test]
fn tls_handshake_timeout() {
    for_each_tcp_server(|kind| {
        let server = start_tls(kind, "timeout: 0.5");
        // Already in TLS, then idle past the handshake timeout: it bounds only the
        // handshake.
        let (_, mut early) = RawTls::connect(kind, server.port(), false);

        let mut silent = RawClient::connect_port(server.port());
        let client_port = silent.stream().local_addr().unwrap().port();
        let started = Instant::now();
        let got = silent.expect_closed(T);
        let took = started.elapsed();
        assert_eq!(show(&got), "", "[{kind}] a silent client gets nothing more");
        assert!(
            took >= Duration::from_millis(250) && took <= Duration::from_secs(4),
            "[{kind}] a silent client was closed after {took:?}; timeout: 0.5"
        );
        // nats-server logs `TLS handshake error: read tcp ...: i/o timeout`, and sometimes
        // (two timers race) `TLS handshake timeout` too.
        wait_for_handshake_error(&server, client_port);

        std::thread::sleep(Duration::from_millis(300));
        let out = early.roundtrip(b"CONNECT {\"verbose\":false}\r\n");
        assert_eq!(
            show(&out),
            "PONG\\r\\n",
            "[{kind}] a client that finished its handshake in time"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Log, monitoring, WebSocket
// ---------------------------------------------------------------------------------------

#[test]
fn tls_startup_log_and_varz() {
    for_each_tcp_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config(tls_block(&format!("{}\n  timeout: 1.5", verify())))
                .with_monitoring(),
        );
        let listening = format!(
            "Listening for client connections on 127.0.0.1:{}",
            server.port()
        );
        let required = "TLS required for client connections";
        wait_for(T, "the TLS log line", || {
            server.log().contains(required).then_some(())
        });
        let log = server.log();
        let at = |what: &str| {
            log.find(what)
                .unwrap_or_else(|| panic!("[{kind}] no {what:?} in the log:\n{log}"))
        };
        assert!(
            at(&listening) < at(required),
            "[{kind}] {required:?} comes after {listening:?}; log:\n{log}"
        );
        let v = http_get_json(server.http_port(), "/varz");
        assert_eq!(v["tls_required"], true, "[{kind}] /varz: {v:#}");
        assert_eq!(v["tls_verify"], true, "[{kind}] /varz: {v:#}");
        assert_eq!(
            v["tls_timeout"].as_f64(),
            Some(1.5),
            "[{kind}] /varz: {v:#}"
        );

        // A block without verify or timeout.
        let server = TestServer::start(kind, ServerConfig::config(tls_block("")).with_monitoring());
        let v = http_get_json(server.http_port(), "/varz");
        assert_eq!(v["tls_required"], true, "[{kind}] /varz: {v:#}");
        assert!(no_tls_verify(&v), "[{kind}] /varz: {v:#}");
        assert_eq!(
            v["tls_timeout"].as_f64(),
            Some(2.0),
            "[{kind}] /varz: {v:#}"
        );
        // /connz shows the session (which TLS 1.3 suite each server prefers differs).
        let (_, mut c) = RawTls::connect(kind, server.port(), false);
        assert_eq!(
            show(&c.roundtrip(b"CONNECT {\"verbose\":false}\r\n")),
            "PONG\\r\\n"
        );
        let v = http_get_json(server.http_port(), "/connz");
        // Ours, not the harness's readiness probe (which may still be open under load).
        let port = c.stream.get_ref().local_addr().unwrap().port();
        let conn = v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["port"] == port)
            .unwrap_or_else(|| panic!("[{kind}] no connection from port {port}: {v:#}"));
        assert_eq!(conn["tls_version"], "1.3", "[{kind}] /connz: {v:#}");
        let suite = conn["tls_cipher_suite"].as_str().unwrap_or_default();
        assert!(
            [
                "TLS_AES_128_GCM_SHA256",
                "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"
            ]
            .contains(&suite),
            "[{kind}] /connz: {v:#}"
        );

        // No TLS at all.
        let server = TestServer::start(kind, ServerConfig::default().with_monitoring());
        let v = http_get_json(server.http_port(), "/varz");
        assert!(
            v.get("tls_required").is_none() || v["tls_required"] == false,
            "[{kind}] /varz: {v:#}"
        );
        assert_eq!(
            v["tls_timeout"].as_f64(),
            Some(2.0),
            "[{kind}] /varz: {v:#}"
        );
        assert!(
            !server.log().contains(required),
            "[{kind}] {required:?} without TLS; log:\n{}",
            server.log()
        );
    });
}

/// With TLS, nats-server's default auth timeout is the TLS timeout plus one second (a
/// client must finish the handshake and then send CONNECT); an `authorization` block's
/// own `timeout` still wins.
#[test]
fn tls_default_auth_timeout() {
    for_each_tcp_server(|kind| {
        for (config, want) in [
            (tls_block("timeout: 1.5"), 2.5),
            (tls_block(""), 3.0),
            (
                format!(
                    "{}authorization {{ token: t0k, timeout: 1 }}\n",
                    tls_block("")
                ),
                1.0,
            ),
            ("authorization { token: t0k }\n".to_string(), 2.0),
        ] {
            let server = TestServer::start(kind, ServerConfig::config(&*config).with_monitoring());
            let v = http_get_json(server.http_port(), "/varz");
            assert_eq!(
                v["auth_timeout"].as_f64(),
                Some(want),
                "[{kind}] /varz auth_timeout with\n{config}"
            );
        }
    });
}

#[test]
fn tls_websocket_clients_are_told_tls_required() {
    for_each_tcp_server_async(|kind| async move {
        // The harness adds `websocket { ..., no_tls: true }` to the config.
        let server = TestServer::start(kind, ServerConfig::config(tls_block("")).with_websocket());
        // nats-server 2.9.10 sends WebSocket clients the client port's INFO, which says
        // tls_required; the WebSocket connection itself stays plain and works.
        let mut ws = RawClient::connect_ws(&server);
        assert_eq!(
            ws.info()["tls_required"],
            true,
            "[{kind}] INFO over ws: {}",
            ws.info()
        );
        let out = ws.roundtrip(b"CONNECT {\"verbose\":false}\r\n");
        assert_eq!(show(&out), "", "[{kind}] CONNECT over ws");
        // async-nats does not start TLS over ws:// whatever INFO says.
        let over_ws = connect(kind, &server.ws_url(), ConnectOptions::new()).await;
        let over_tls = connect(kind, &server.tls_url(), trusting()).await;
        reaches(kind, &over_ws, &over_tls, "ws.to.tls").await;
        reaches(kind, &over_tls, &over_ws, "tls.to.ws").await;
    });
}

// ---------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------

/// A server started with `args` after the harness's `-a`/`-p` (and the config file, if
/// `config` is given).
fn start_with_flags(
    kind: ServerKind,
    config: Option<String>,
    args: Vec<String>,
    monitoring: bool,
) -> TestServer {
    let mut cfg = match config {
        Some(text) => ServerConfig::config(text),
        None => ServerConfig::default(),
    };
    cfg.args = args;
    cfg.monitoring = monitoring;
    TestServer::start(kind, cfg)
}

#[test]
fn tls_flags_start_a_tls_server() {
    for_each_tcp_server_async(|kind| async move {
        let ca = cert_path("ca.pem");
        // --tlscert and --tlskey enable TLS with or without --tls.
        for tls in [false, true] {
            let mut args = cert_flags();
            if tls {
                args.insert(0, "--tls".into());
            }
            let what = args.join(" ");
            let server = start_with_flags(kind, None, args, false);
            let c = RawClient::connect_port(server.port());
            assert_eq!(
                c.info()["tls_required"],
                true,
                "[{kind}] {what}: {}",
                c.info()
            );
            assert!(no_tls_verify(c.info()), "[{kind}] {what}: {}", c.info());
            let a = connect(kind, &server.tls_url(), trusting()).await;
            reaches(kind, &a, &a, "flags.tls").await;
        }

        // --tlsverify with --tlscacert: client certificates.
        let mut args = cert_flags();
        args.extend(["--tlsverify".into(), "--tlscacert".into(), ca.clone()]);
        let server = start_with_flags(kind, None, args, false);
        let c = RawClient::connect_port(server.port());
        assert_eq!(
            c.info()["tls_verify"],
            true,
            "[{kind}] --tlsverify: {}",
            c.info()
        );
        refused(
            kind,
            &server.tls_url(),
            trusting(),
            "--tlsverify, no client certificate",
        )
        .await;
        let a = connect(kind, &server.tls_url(), with_client_cert(trusting())).await;
        reaches(kind, &a, &a, "flags.verify").await;

        // --tlscacert without --tlsverify: no client certificate asked for.
        let mut args = cert_flags();
        args.extend(["--tlscacert".into(), ca.clone()]);
        let server = start_with_flags(kind, None, args, false);
        let c = RawClient::connect_port(server.port());
        assert!(
            no_tls_verify(c.info()),
            "[{kind}] --tlscacert: {}",
            c.info()
        );
        let a = connect(kind, &server.tls_url(), trusting()).await;
        reaches(kind, &a, &a, "flags.ca.without.verify").await;

        // The flags replace the config file's block (its verify is gone), but the block's
        // timeout stays.
        let block = tls_block(&format!("{}\n  timeout: 0.5", verify()));
        let server = start_with_flags(kind, Some(block), cert_flags(), true);
        let c = RawClient::connect_port(server.port());
        assert_eq!(
            c.info()["tls_required"],
            true,
            "[{kind}] INFO: {}",
            c.info()
        );
        assert!(
            no_tls_verify(c.info()),
            "[{kind}] flags over a verifying block: {}",
            c.info()
        );
        let a = connect(kind, &server.tls_url(), trusting()).await;
        reaches(kind, &a, &a, "flags.over.block").await;
        let v = http_get_json(server.http_port(), "/varz");
        assert!(no_tls_verify(&v), "[{kind}] /varz: {v:#}");
        assert_eq!(
            v["tls_timeout"].as_f64(),
            Some(0.5),
            "[{kind}] /varz: {v:#}"
        );
    });
}

/// One command line that must be refused, and what nats-server 2.9.10 says.
struct BadFlags {
    name: &'static str,
    args: Vec<String>,
    /// A config file to pass with `-c`.
    config: Option<String>,
    message: String,
    /// rnats finds this one only when its TLS library builds the listener, after the
    /// options were read: the same message and exit code, as a `[FTL]` log line (a known
    /// difference: the engine reads no keys).
    fatal_in_rnats: bool,
}

/// Exit code 1 and `<program>: <want>` on stderr (or, with `fatal_in_rnats` on an rnats
/// server, a last line `... [FTL] <message>`); `Err` with what happened otherwise.
fn refused_with(
    kind: ServerKind,
    out: &rnats_tests::CommandOutput,
    want: &str,
    message: &str,
    fatal_in_rnats: bool,
) -> Result<(), String> {
    // `<program>: <message>`; the program name differs.
    let said = out
        .stderr
        .trim()
        .split_once(": ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fatal = format!("[FTL] {message}");
    let as_expected = if fatal_in_rnats && kind != ServerKind::NatsServer {
        out.stderr.trim_end().ends_with(&fatal)
    } else {
        said == want
    };
    if out.code() == Some(1) && as_expected {
        return Ok(());
    }
    Err(format!(
        "want exit code 1 and `<program>: {want}`; got {:?}, stderr {:?}, stdout {:?}",
        out.code(),
        out.stderr,
        out.stdout.lines().rev().take(3).collect::<Vec<_>>()
    ))
}

#[test]
fn tls_flag_errors_match_nats_server() {
    for_each_tcp_server(|kind| {
        let dir = TempDir::new("tls-flags");
        let not_pem = dir.write("not-a-cert.pem", "hello, no PEM here\n");
        let not_pem = not_pem.display().to_string();
        let missing = dir.path().join("missing.pem").display().to_string();
        let (cert, key, ca) = (
            cert_path("server.pem"),
            cert_path("server.key"),
            cert_path("ca.pem"),
        );
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let no_cert = "TLS Server certificate must be present and valid".to_string();
        let no_key = "TLS Server private key must be present and valid".to_string();
        let flags = |name, a: Vec<String>, message: &String| BadFlags {
            name,
            args: a,
            config: None,
            message: message.clone(),
            fatal_in_rnats: false,
        };
        let cases = [
            flags("--tls alone", args(&["--tls"]), &no_cert),
            flags("--tlscert alone", args(&["--tlscert", &cert]), &no_key),
            flags("--tlskey alone", args(&["--tlskey", &key]), &no_cert),
            flags(
                "--tls --tlskey",
                args(&["--tls", "--tlskey", &key]),
                &no_cert,
            ),
            flags("--tlsverify alone", args(&["--tlsverify"]), &no_cert),
            flags("--tlscacert alone", args(&["--tlscacert", &ca]), &no_cert),
            flags(
                "missing --tlscert file",
                args(&["--tlscert", &missing, "--tlskey", &key]),
                &format!(
                    "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
                ),
            ),
            flags(
                "missing --tlskey file",
                args(&["--tlscert", &cert, "--tlskey", &missing]),
                &format!(
                    "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
                ),
            ),
            flags(
                "--tlscert without PEM",
                args(&["--tlscert", &not_pem, "--tlskey", &key]),
                &"error parsing X509 certificate/key pair: tls: failed to find any PEM data in certificate input".to_string(),
            ),
            flags(
                "missing --tlscacert file",
                args(&["--tlsverify", "--tlscert", &cert, "--tlskey", &key, "--tlscacert", &missing]),
                &format!("open {missing}: no such file or directory"),
            ),
            BadFlags {
                name: "--tlskey of another certificate",
                args: args(&["--tlscert", &cert, "--tlskey", &cert_path("client.key")]),
                config: None,
                message: "error parsing X509 certificate/key pair: tls: private key does not match public key".into(),
                fatal_in_rnats: true,
            },
            // The flags replace the block rather than amend it: its certificate is not
            // taken.
            BadFlags {
                name: "--tlsverify over a config file's tls block",
                args: args(&["--tlsverify"]),
                config: Some(tls_block(&verify())),
                message: no_cert.clone(),
                fatal_in_rnats: false,
            },
        ];
        let mut failures = Vec::new();
        for (i, case) in cases.iter().enumerate() {
            let port = free_port().to_string();
            let mut argv = vec!["-a".to_string(), "127.0.0.1".into(), "-p".into(), port];
            if let Some(text) = &case.config {
                let path = dir.write(&format!("case{i}.conf"), text);
                argv.extend(["-c".into(), path.display().to_string()]);
            }
            argv.extend(case.args.iter().cloned());
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let out = run_server_command(kind, &argv, None, T);
            if let Err(e) = refused_with(
                kind,
                &out,
                &case.message,
                &case.message,
                case.fatal_in_rnats,
            ) {
                failures.push(format!("{}: {e}", case.name));
            }
        }
        assert!(
            failures.is_empty(),
            "[{kind}] {} of {} bad command lines:\n  {}",
            failures.len(),
            cases.len(),
            failures.join("\n  ")
        );
    });
}

/// nats-server takes the system's roots for `verify` without `ca_file`; rnats refuses to
/// start instead (a known difference: it does not read the system's certificate store).
#[test]
fn tls_verify_without_ca_file() {
    for_each_tcp_server(|kind| {
        let block = tls_block("verify: true");
        let mut flags = cert_flags();
        flags.push("--tlsverify".into());
        for (what, cfg) in [
            ("config", ServerConfig::config(block)),
            ("flags", ServerConfig::args(flags)),
        ] {
            match kind {
                ServerKind::NatsServer => {
                    let server = TestServer::start(kind, cfg);
                    let c = RawClient::connect_port(server.port());
                    assert_eq!(
                        c.info()["tls_verify"],
                        true,
                        "[{kind}] {what}: {}",
                        c.info()
                    );
                }
                _ => {
                    let err = TestServer::try_start(kind, cfg).err().unwrap_or_else(|| {
                        panic!("[{kind}] {what}: started with verify and no ca_file")
                    });
                    assert!(
                        err.contains("exited early with exit status: 1")
                            && err.contains("'verify' needs a 'ca_file'"),
                        "[{kind}] {what}: want exit code 1 and \"'verify' needs a 'ca_file'\"; got: {err}"
                    );
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------------------

/// One bad top-level `tls` block: its fields, and where (1-based line and column) and what
/// nats-server 2.9.10 reports.
struct BadTls {
    name: &'static str,
    fields: String,
    at: (u32, u32),
    message: String,
    /// See [`BadFlags::fatal_in_rnats`].
    fatal_in_rnats: bool,
}

#[test]
fn tls_config_errors_match_nats_server() {
    for_each_tcp_server(|kind| {
        let dir = TempDir::new("tls-config");
        let not_pem = dir.write("not-a-cert.pem", "hello, no PEM here\n");
        let not_pem = not_pem.display().to_string();
        let missing = dir.path().join("missing.pem").display().to_string();
        let (cert, key) = (cert_path("server.pem"), cert_path("server.key"));
        let bad = |name, fields: String, at, message: String| BadTls {
            name,
            fields,
            at,
            message,
            fatal_in_rnats: false,
        };
        // In the config around `fields` (see below) the `tls` key is at line 2, column 1,
        // and its fields start at line 3, column 3.
        let cases = [
            bad(
                "cert_file without key_file",
                format!("cert_file: \"{cert}\""),
                (2, 1),
                "missing 'key_file' in TLS configuration".into(),
            ),
            bad(
                "key_file without cert_file",
                format!("key_file: \"{key}\""),
                (2, 1),
                "missing 'cert_file' in TLS configuration".into(),
            ),
            bad(
                "missing cert_file",
                format!("cert_file: \"{missing}\"\n  key_file: \"{key}\""),
                (2, 1),
                format!(
                    "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
                ),
            ),
            bad(
                "missing key_file",
                format!("cert_file: \"{cert}\"\n  key_file: \"{missing}\""),
                (2, 1),
                format!(
                    "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
                ),
            ),
            bad(
                "key_file without PEM",
                format!("cert_file: \"{cert}\"\n  key_file: \"{not_pem}\""),
                (2, 1),
                "error parsing X509 certificate/key pair: tls: failed to find any PEM data in key input".into(),
            ),
            BadTls {
                name: "key of another certificate",
                fields: format!(
                    "cert_file: \"{cert}\"\n  key_file: \"{}\"",
                    cert_path("client.key")
                ),
                at: (2, 1),
                message: "error parsing X509 certificate/key pair: tls: private key does not match public key".into(),
                fatal_in_rnats: true,
            },
            bad(
                "unknown field",
                format!("cert_file: \"{cert}\"\n  key_file: \"{key}\"\n  hello: 1"),
                (5, 3),
                "error parsing tls config, unknown field [\"hello\"]".into(),
            ),
            bad(
                "verify not a boolean",
                format!("cert_file: \"{cert}\"\n  key_file: \"{key}\"\n  verify: \"yes\""),
                (5, 3),
                "error parsing tls config, expected 'verify' to be a boolean".into(),
            ),
            bad(
                "timeout not a duration",
                format!("cert_file: \"{cert}\"\n  key_file: \"{key}\"\n  timeout: \"1x\""),
                (5, 3),
                "error parsing tls config, 'timeout' time: unknown unit \"x\" in duration \"1x\""
                    .into(),
            ),
            bad(
                "missing ca_file",
                format!(
                    "cert_file: \"{cert}\"\n  key_file: \"{key}\"\n  ca_file: \"{missing}\"\n  verify: true"
                ),
                (2, 1),
                format!("open {missing}: no such file or directory"),
            ),
            bad(
                "ca_file without PEM",
                format!(
                    "cert_file: \"{cert}\"\n  key_file: \"{key}\"\n  ca_file: \"{not_pem}\"\n  verify: true"
                ),
                (2, 1),
                "failed to parse root ca certificate".into(),
            ),
        ];
        // Sanity: the good block these cases break is accepted (with -t).
        let good = dir.write(
            "good.conf",
            &format!("# the block the cases break:\n{}", tls_block(&verify())),
        );
        let out = run_server_command(kind, &["-t", "-c", good.to_str().unwrap()], None, T);
        assert_eq!(
            out.code(),
            Some(0),
            "[{kind}] -t with a good tls block: {out:?}"
        );

        let mut failures = Vec::new();
        for (i, case) in cases.iter().enumerate() {
            let path = dir.write(
                &format!("bad{i}.conf"),
                &format!("# the block under test:\ntls {{\n  {}\n}}\n", case.fields),
            );
            let port = free_port().to_string();
            let out = run_server_command(
                kind,
                &["-a", "127.0.0.1", "-p", &port, "-c", path.to_str().unwrap()],
                None,
                T,
            );
            let want = format!(
                "{}:{}:{}: {}",
                path.display(),
                case.at.0,
                case.at.1,
                case.message
            );
            if let Err(e) = refused_with(kind, &out, &want, &case.message, case.fatal_in_rnats) {
                failures.push(format!("{}: {e}", case.name));
            }
        }
        assert!(
            failures.is_empty(),
            "[{kind}] {} of {} bad tls blocks:\n  {}",
            failures.len(),
            cases.len(),
            failures.join("\n  ")
        );
    });
}

// ---------------------------------------------------------------------------------------
// handshake_first (nats-server 2.10; the reference binary here, 2.9.10, predates it)
// ---------------------------------------------------------------------------------------

/// A raw client that starts TLS at once and returns the first line it gets inside TLS.
fn first_line_inside_tls(kind: ServerKind, port: u16) -> String {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(T)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(rustls_config(false), name).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut socket)
            .unwrap_or_else(|e| panic!("[{kind}] TLS handshake before INFO: {e}"));
    }
    let mut stream = rustls::StreamOwned::new(conn, socket);
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            other => panic!("[{kind}] reading INFO inside TLS: {other:?}"),
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

#[test]
fn tls_handshake_first() {
    for_each_tcp_server_async(|kind| async move {
        if kind.is_reference() {
            return;
        }
        let config = ServerConfig::config(tls_block("handshake_first: true"));
        let server = TestServer::start(kind, config.with_silent_client_port());
        // Nothing in plain text: the server waits for the client's TLS hello.
        let mut plain = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        plain
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 64];
        let early = plain.read(&mut buf);
        assert!(
            matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
            "[{kind}] handshake_first: the server spoke first: {early:?}"
        );
        drop(plain);
        let info = first_line_inside_tls(kind, server.port());
        assert!(
            info.starts_with("INFO {"),
            "[{kind}] first line inside TLS: {info}"
        );
        assert!(info.contains("\"tls_required\":true"), "[{kind}] {info}");
        // A client that starts TLS first talks as usual.
        let url = server.tls_url();
        let a = connect(kind, &url, trusting().tls_first()).await;
        let b = connect(kind, &url, trusting().tls_first()).await;
        let mut sub = b.subscribe("first.>").await.unwrap();
        barrier(&b).await;
        a.publish("first.hello", Bytes::from_static(b"hi"))
            .await
            .unwrap();
        assert_eq!(next(&mut sub).await.payload.as_ref(), b"hi", "[{kind}]");

        // With a fallback delay, classic clients get the INFO in plain text after it.
        let server = start_tls(kind, "handshake_first: \"200ms\"");
        let url = server.tls_url();
        let classic = connect(kind, &url, trusting()).await;
        let first = connect(kind, &url, trusting().tls_first()).await;
        let mut sub = classic.subscribe("mixed").await.unwrap();
        barrier(&classic).await;
        first
            .publish("mixed", Bytes::from_static(b"both ways"))
            .await
            .unwrap();
        assert_eq!(
            next(&mut sub).await.payload.as_ref(),
            b"both ways",
            "[{kind}]"
        );
        server.assert_running();
    });
}

/// Over `max_connections` the refusal comes in plain text right after the INFO, before any
/// TLS, and the connection ends.
#[test]
fn tls_over_max_connections_is_refused_in_plain_text() {
    for_each_tcp_server(|kind| {
        let config = format!("max_connections: 1\n{}", tls_block(""));
        let server = TestServer::start(kind, ServerConfig::config(config).with_monitoring());
        // The harness's readiness probe must be gone before the one slot is taken.
        wait_for(T, "no connections", || {
            (http_get_json(server.http_port(), "/varz")["connections"] == 0).then_some(())
        });
        let (_, mut first) = RawTls::connect(kind, server.port(), false);
        let out = first.roundtrip(b"CONNECT {\"verbose\":false}\r\n");
        assert_eq!(show(&out), "PONG\\r\\n", "[{kind}] the first client");
        let mut second = RawClient::connect_port(server.port());
        assert_eq!(second.info()["tls_required"], true, "[{kind}]");
        let rest = second.expect_closed(T);
        assert!(
            rest == b"-ERR 'maximum connections exceeded'\r\n",
            "[{kind}] after the INFO: {}",
            show(&rest)
        );
        server.assert_running();
    });
}

/// New certificates in the config file take over on SIGHUP (certificate rotation), for
/// the connections that follow.
#[test]
fn tls_certificates_reload_on_sighup() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_tls(kind, "");
        let url = server.tls_url();
        let trusting_ca2 = || {
            ConnectOptions::new()
                .add_root_certificates(cert_path("ca2.pem").into())
                .require_tls(true)
        };
        let first = connect(kind, &url, trusting()).await;
        refused(
            kind,
            &url,
            trusting_ca2(),
            "the second CA before the reload",
        )
        .await;
        let rotated = format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
            cert_path("server2.pem"),
            cert_path("server2.key"),
        );
        std::fs::write(server.config_path().unwrap(), rotated).unwrap();
        server.signal(libc::SIGHUP);
        let deadline = std::time::Instant::now() + T;
        let rotated_client = loop {
            match try_connect(&url, trusting_ca2()).await {
                Ok(c) => break c,
                Err(e) if std::time::Instant::now() > deadline => {
                    panic!("[{kind}] the new certificate never served: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        refused(kind, &url, trusting(), "the first CA after the reload").await;
        // Connections made before keep working and reach the new ones.
        reaches(kind, &first, &rotated_client, "rotated.subject").await;
        server.assert_running();
    });
}
