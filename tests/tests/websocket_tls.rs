//! WebSocket over TLS (`wss://`): the `tls {}` block inside `websocket {}`, of nats-server
//! 2.9.10 and of every rnats frontend, with the test certificates of `tests/certs/`.
//!
//! * async-nats over `wss://`: publish/subscribe, request/reply, headers; a TCP client and
//!   a wss client share one subject space.
//! * A handshake that fails (a plain `ws://` client, a client that does not trust the
//!   server's CA, a missing or unfit client certificate under `verify: true`) costs only
//!   that connection: the server keeps serving everyone else.
//! * `verify: true` with `ca_file` asks for a client certificate signed by that CA.
//! * The startup log line says `wss://`; a `tls` block beats `no_tls: true`.
//! * Bad `tls` blocks are rejected at startup with nats-server's exit code and message,
//!   position included.
//!
//! Runs on the TCP servers ([`rnats_tests::for_each_tcp_server`]), which is every binary
//! once: each test picks its listener itself.

mod support;

use support::{
    barrier, connect, next, reaches, refused, trusting, try_connect, with_client_cert, T,
};

use async_nats::ConnectOptions;
use bytes::Bytes;
use rnats_tests::{
    cert_path, for_each_tcp_server, for_each_tcp_server_async, free_port, run_server_command,
    wait_for, RawClient, ServerConfig, ServerKind, TempDir, TestServer,
};
use tokio::time::timeout;

/// A `websocket` block on `{ws_port}` serving TLS with the test server certificate;
/// `extra` goes into the `tls` block (e.g. `ca_file` and `verify`), `outer` into the
/// `websocket` block.
fn wss_config(outer: &str, extra: &str) -> ServerConfig {
    ServerConfig::config(format!(
        "websocket {{\n  host: 127.0.0.1\n  port: {{ws_port}}\n  {outer}\n  tls {{\n    \
         cert_file: \"{}\"\n    key_file: \"{}\"\n    {extra}\n  }}\n}}\n",
        cert_path("server.pem"),
        cert_path("server.key"),
    ))
    .with_websocket()
}

fn start_wss(kind: ServerKind) -> TestServer {
    TestServer::start(kind, wss_config("", ""))
}

#[test]
fn wss_pub_sub_request_reply_headers() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_wss(kind);
        let url = server.wss_url();
        let a = connect(kind, &url, trusting()).await;
        let b = connect(kind, &url, trusting()).await;
        let info = a.server_info();
        assert!(info.headers, "[{kind}] INFO.headers over wss");
        assert_eq!(info.max_payload, 1024 * 1024, "[{kind}] INFO.max_payload");
        // nats-server 2.9.10 sends the INFO of a plain ws:// client over wss too: the TLS
        // is the WebSocket's, not the NATS protocol's.
        assert!(!info.tls_required, "[{kind}] INFO.tls_required over wss");

        support::pub_sub_request_headers(kind, &a, &b, "wss").await;
        server.assert_running();
    });
}

#[test]
fn wss_and_tcp_share_subjects() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_wss(kind);
        let tcp = connect(kind, &server.url(), ConnectOptions::new()).await;
        // By name (SNI localhost) and by address (the certificate names 127.0.0.1 too).
        let by_name = connect(kind, &server.wss_url(), trusting()).await;
        let by_ip_url = format!("wss://127.0.0.1:{}", server.ws_port());
        let by_ip = connect(kind, &by_ip_url, trusting()).await;
        reaches(kind, &tcp, &by_name, "share.tcp.to.wss").await;
        reaches(kind, &by_name, &tcp, "share.wss.to.tcp").await;
        reaches(kind, &by_ip, &by_name, "share.wss.to.wss").await;
        reaches(kind, &tcp, &by_ip, "share.tcp.to.wss.ip").await;

        // A request over TCP answered over wss.
        let mut service = by_ip.subscribe("share.service").await.unwrap();
        barrier(&by_ip).await;
        let request = tcp.request("share.service", Bytes::from_static(b"q"));
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
fn wss_failed_handshakes_leave_the_server_serving() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_wss(kind);
        // A plain WebSocket upgrade on the TLS port gets no WebSocket (nats-server's HTTP
        // server answers 400 to an HTTP request on a TLS port; closing is as good).
        let plain = RawClient::try_connect_ws_port(server.ws_port(), &[]);
        assert!(
            plain.is_err(),
            "[{kind}] plain ws upgrade on the wss port succeeded"
        );
        let ws_url = format!("ws://127.0.0.1:{}", server.ws_port());
        refused(
            kind,
            &ws_url,
            ConnectOptions::new(),
            "ws:// on the wss port",
        )
        .await;
        // A client that does not trust the test CA refuses the server's certificate.
        refused(
            kind,
            &server.wss_url(),
            ConnectOptions::new(),
            "a client without the test CA",
        )
        .await;
        // Raw garbage instead of a ClientHello.
        let mut junk = std::net::TcpStream::connect(("127.0.0.1", server.ws_port())).unwrap();
        std::io::Write::write_all(&mut junk, b"\x16\x03\x01\x00\x05hello, not TLS\r\n\r\n")
            .unwrap();
        drop(junk);

        server.assert_running();
        let a = connect(kind, &server.wss_url(), trusting()).await;
        let tcp = connect(kind, &server.url(), ConnectOptions::new()).await;
        reaches(kind, &tcp, &a, "after.failed.handshakes").await;
    });
}

#[test]
fn wss_verify_requires_a_client_certificate() {
    for_each_tcp_server_async(|kind| async move {
        let ca = format!("ca_file: \"{}\"\n    verify: true", cert_path("ca.pem"));
        let server = TestServer::start(kind, wss_config("", &ca));
        let url = server.wss_url();

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
        let tcp = connect(kind, &server.url(), ConnectOptions::new()).await;
        reaches(kind, &a, &b, "verify.wss").await;
        reaches(kind, &tcp, &a, "verify.tcp.to.wss").await;
        // Stays refused: the failures changed nothing.
        refused(kind, &url, trusting(), "verify: true, again").await;
        server.assert_running();

        // ca_file without verify: no client certificate is asked for.
        let lenient = TestServer::start(
            kind,
            wss_config("", &format!("ca_file: \"{}\"", cert_path("ca.pem"))),
        );
        let c = connect(kind, &lenient.wss_url(), trusting()).await;
        let d = connect(kind, &lenient.wss_url(), with_client_cert(trusting())).await;
        reaches(kind, &c, &d, "ca.without.verify").await;
    });
}

#[test]
fn wss_startup_log_line() {
    for_each_tcp_server_async(|kind| async move {
        // Without and with `no_tls: true` next to the tls block: TLS wins.
        for outer in ["", "no_tls: true"] {
            let server = TestServer::start(kind, wss_config(outer, ""));
            let want = format!(
                "Listening for websocket clients on wss://127.0.0.1:{}",
                server.ws_port()
            );
            wait_for(T, "the websocket log line", || {
                server.log().contains(&want).then_some(())
            });
            let log = server.log();
            assert!(
                !log.contains("not configured with TLS"),
                "[{kind}] {outer:?}: no plain-text warning with a tls block; log:\n{log}"
            );
            assert!(
                !log.contains("on ws://"),
                "[{kind}] {outer:?}: no ws:// listener; log:\n{log}"
            );
            let c = connect(kind, &server.wss_url(), trusting()).await;
            reaches(kind, &c, &c, "log.line").await;
            assert!(
                RawClient::try_connect_ws_port(server.ws_port(), &[]).is_err(),
                "[{kind}] {outer:?}: plain ws upgrade accepted"
            );
        }
    });
}

/// One bad `tls` block: its fields, and where (1-based line and column) and what
/// nats-server 2.9.10 reports.
struct BadTls {
    name: &'static str,
    fields: String,
    at: (u32, u32),
    message: String,
    /// rnats finds this one only when its TLS library builds the listener, after the
    /// config was read: the same message and exit code, as a `[FTL]` log line without the
    /// position (a known difference: the engine reads no keys).
    fatal_in_rnats: bool,
}

#[test]
fn wss_config_errors_match_nats_server() {
    for_each_tcp_server(|kind| {
        let dir = TempDir::new("wss-config");
        let not_pem = dir.write("not-a-cert.pem", "hello, no PEM here\n");
        let not_pem = not_pem.display().to_string();
        let missing = dir.path().join("missing.pem").display().to_string();
        let (cert, key, ca) = (
            cert_path("server.pem"),
            cert_path("server.key"),
            cert_path("ca.pem"),
        );
        // In the config around `fields` (see below) the `tls` key is at line 5, column 3,
        // and its fields start at line 6, column 5.
        let cases = [
            BadTls {
                name: "cert_file without key_file",
                fields: format!("cert_file: \"{cert}\""),
                at: (5, 3),
                message: "missing 'key_file' in TLS configuration".into(),
                fatal_in_rnats: false,
            },
            BadTls {
                name: "key_file without cert_file",
                fields: format!("key_file: \"{key}\""),
                at: (5, 3),
                message: "missing 'cert_file' in TLS configuration".into(),
                fatal_in_rnats: false,
            },
            BadTls {
                name: "missing cert_file",
                fields: format!("cert_file: \"{missing}\"\n    key_file: \"{key}\""),
                at: (5, 3),
                message: format!(
                    "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
                ),
                fatal_in_rnats: false,
            },
            BadTls {
                name: "missing key_file",
                fields: format!("cert_file: \"{cert}\"\n    key_file: \"{missing}\""),
                at: (5, 3),
                message: format!(
                    "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
                ),
                fatal_in_rnats: false,
            },
            BadTls {
                name: "cert_file without PEM",
                fields: format!("cert_file: \"{not_pem}\"\n    key_file: \"{key}\""),
                at: (5, 3),
                message: "error parsing X509 certificate/key pair: tls: failed to find any PEM data in certificate input".into(),
                fatal_in_rnats: false,
            },
            BadTls {
                name: "key of another certificate",
                fields: format!(
                    "cert_file: \"{cert}\"\n    key_file: \"{}\"",
                    cert_path("client.key")
                ),
                at: (5, 3),
                message: "error parsing X509 certificate/key pair: tls: private key does not match public key".into(),
                fatal_in_rnats: true,
            },
            BadTls {
                name: "unknown field",
                fields: format!("cert_file: \"{cert}\"\n    key_file: \"{key}\"\n    hello: 1"),
                at: (8, 5),
                message: "error parsing tls config, unknown field [\"hello\"]".into(),
                fatal_in_rnats: false,
            },
            BadTls {
                name: "missing ca_file",
                fields: format!(
                    "cert_file: \"{cert}\"\n    key_file: \"{key}\"\n    ca_file: \"{missing}\"\n    verify: true"
                ),
                at: (5, 3),
                message: format!("open {missing}: no such file or directory"),
                fatal_in_rnats: false,
            },
            BadTls {
                name: "ca_file without PEM",
                fields: format!(
                    "cert_file: \"{cert}\"\n    key_file: \"{key}\"\n    ca_file: \"{not_pem}\"\n    verify: true"
                ),
                at: (5, 3),
                message: "failed to parse root ca certificate".into(),
                fatal_in_rnats: false,
            },
        ];
        // Sanity: the good block these cases break is accepted (with -t).
        let good = dir.write(
            "good.conf",
            &format!(
                "websocket {{\n  host: 127.0.0.1\n  port: {}\n  # the block the cases break:\n  tls {{\n    \
                 cert_file: \"{cert}\"\n    key_file: \"{key}\"\n    ca_file: \"{ca}\"\n    \
                 verify: true\n  }}\n}}\n",
                free_port()
            ),
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
                &format!(
                    "websocket {{\n  host: 127.0.0.1\n  port: {}\n  # the block under test:\n  tls {{\n    \
                     {}\n  }}\n}}\n",
                    free_port(),
                    case.fields
                ),
            );
            let port = free_port().to_string();
            let out = run_server_command(
                kind,
                &["-a", "127.0.0.1", "-p", &port, "-c", path.to_str().unwrap()],
                None,
                T,
            );
            // `<program>: <file>:<line>:<col>: <message>`; the program name differs.
            let want = format!(
                "{}:{}:{}: {}",
                path.display(),
                case.at.0,
                case.at.1,
                case.message
            );
            let said = out
                .stderr
                .trim()
                .split_once(": ")
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            let fatal = format!("[FTL] {}", case.message);
            let as_expected = if case.fatal_in_rnats && kind != ServerKind::NatsServer {
                out.stderr.trim_end().ends_with(&fatal)
            } else {
                said == want
            };
            if out.code() != Some(1) || !as_expected {
                failures.push(format!(
                    "{}: want exit code 1 and `<program>: {want}`; got {:?}, stderr {:?}, stdout {:?}",
                    case.name,
                    out.code(),
                    out.stderr,
                    out.stdout.lines().rev().take(3).collect::<Vec<_>>()
                ));
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

/// New certificates in the `websocket` block's `tls` take over on SIGHUP, for the
/// connections that follow (the rest of the block may not change while running).
#[test]
fn wss_certificates_reload_on_sighup() {
    for_each_tcp_server_async(|kind| async move {
        let server = start_wss(kind);
        let url = server.wss_url();
        let trusting_ca2 =
            || ConnectOptions::new().add_root_certificates(cert_path("ca2.pem").into());
        let first = connect(kind, &url, trusting()).await;
        refused(
            kind,
            &url,
            trusting_ca2(),
            "the second CA before the reload",
        )
        .await;
        let rotated = format!(
            "websocket {{\n  host: 127.0.0.1\n  port: {}\n  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n  }}\n}}\n",
            server.ws_port(),
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
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        refused(kind, &url, trusting(), "the first CA after the reload").await;
        reaches(kind, &first, &rotated_client, "rotated.wss").await;
        server.assert_running();
    });
}
