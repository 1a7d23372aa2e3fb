//! Command line and config file handling: the same flags and config syntax as
//! nats-server, and errors that say where the problem is.
//!
//! Runs on the TCP servers only ([`rnats_tests::for_each_tcp_server`]): it tests the
//! process, which a WebSocket frontend shares with its TCP twin.

use std::time::Duration;

use rnats_tests::{
    for_each_tcp_server, free_port, http_get_json, run_server_command, CommandOutput, RawClient,
    ServerConfig, ServerKind, TempDir, TestServer,
};

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

/// Runs the server with a config file that must be rejected; binds to a free loopback
/// port in case it is (wrongly) accepted.
fn run_bad_config(kind: ServerKind, path: &std::path::Path) -> CommandOutput {
    let port = free_port().to_string();
    let out = run_server_command(
        kind,
        &["-a", "127.0.0.1", "-p", &port, "-c", path.to_str().unwrap()],
        None,
        Duration::from_secs(3),
    );
    assert!(
        out.status.is_some(),
        "server kept running with a bad config ({}):\nstdout: {}\nstderr: {}",
        path.display(),
        out.stdout,
        out.stderr
    );
    assert_ne!(
        out.code(),
        Some(0),
        "bad config must exit non-zero:\nstdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    out
}

#[test]
fn cli_config_file_syntax() {
    for_each_tcp_server(|kind| {
        let conf = r#"# comment
// another comment
PAYLOAD_SIZE = 64KB
max_payload: $PAYLOAD_SIZE
max_control_line = 2KB
max_pending 32MB
write_deadline: "3s"
server_name = "from_conf"
include ./inc.conf
"#;
        let inc =
            "ping_interval: \"30s\"\nauthorization {\n  token: $MY_TOKEN\n  timeout: 1.5\n}\n";
        let server = TestServer::start(
            kind,
            ServerConfig::config(conf)
                .with_file("inc.conf", inc)
                .with_env("MY_TOKEN", "envtok")
                .with_monitoring(),
        );
        let c = RawClient::connect(&server);
        assert_eq!(c.info()["max_payload"], 65536, "$VAR + size: {}", c.info());
        assert_eq!(c.info()["server_name"], "from_conf", "key = \"string\"");
        assert_eq!(
            c.info()["auth_required"],
            true,
            "included authorization block"
        );
        // The token came from the environment.
        let mut ok = RawClient::connect(&server);
        let out = ok.roundtrip(b"CONNECT {\"verbose\":false,\"auth_token\":\"envtok\"}\r\n");
        assert!(
            out.is_empty(),
            "env token accepted: {}",
            rnats_tests::show(&out)
        );
        let v = http_get_json(server.http_port(), "/varz");
        assert_eq!(v["max_control_line"], 2048, "key = size");
        assert_eq!(v["max_pending"], 33_554_432, "key size (no separator)");
        assert_eq!(v["write_deadline"], 3_000_000_000u64, "duration string");
        assert_eq!(
            v["ping_interval"], 30_000_000_000u64,
            "duration from include"
        );
        assert_eq!(v["auth_timeout"].as_f64(), Some(1.5), "fractional seconds");
        assert_eq!(v["server_name"], "from_conf");
    });
}

#[test]
fn cli_listen_flag_forms() {
    for_each_tcp_server(|kind| {
        let forms: Vec<(&str, ServerConfig)> = vec![
            (
                "--addr=H --port=N",
                ServerConfig::args(["--addr=127.0.0.1", "--port={port}"]),
            ),
            (
                "--net H --port N",
                ServerConfig::args(["--net", "127.0.0.1", "--port", "{port}"]),
            ),
            (
                "-a H -p=N",
                ServerConfig::args(["-a", "127.0.0.1", "-p={port}"]),
            ),
            (
                "-addr H -port N",
                ServerConfig::args(["-addr", "127.0.0.1", "-port", "{port}"]),
            ),
            (
                "config listen",
                ServerConfig::config("listen: 127.0.0.1:{port}\n"),
            ),
            (
                "config host/port",
                ServerConfig::config("host: 127.0.0.1\nport: {port}\n"),
            ),
            (
                "config net/port",
                ServerConfig::config("net: \"127.0.0.1\"\nport = {port}\n"),
            ),
        ];
        for (what, mut cfg) in forms {
            cfg.listen_args = false;
            let server = TestServer::try_start(kind, cfg).unwrap_or_else(|e| panic!("{what}: {e}"));
            let mut c = RawClient::connect(&server);
            assert_eq!(
                c.info()["port"].as_u64(),
                Some(server.port() as u64),
                "{what}"
            );
            c.roundtrip(format!("CONNECT {QUIET}\r\n").as_bytes());
        }
        // Monitoring port flag spellings.
        for flags in [["--http_port={http_port}"], ["-m={http_port}"]] {
            let mut cfg = ServerConfig::args(["-a", "127.0.0.1", "-p", "{port}"]);
            cfg.args.extend(flags.iter().map(|s| s.to_string()));
            cfg.listen_args = false;
            cfg.monitoring = true;
            let server =
                TestServer::try_start(kind, cfg).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
            let v = http_get_json(server.http_port(), "/varz");
            assert_eq!(
                v["http_port"].as_u64(),
                Some(server.http_port() as u64),
                "{flags:?}"
            );
        }
        // Command-line flags override the config file.
        let other = free_port();
        let server = TestServer::start(
            kind,
            ServerConfig::config(format!("port: {other}\nmax_payload: 2KB\n")),
        );
        let c = RawClient::connect(&server);
        assert_eq!(
            c.info()["port"].as_u64(),
            Some(server.port() as u64),
            "-p beats config port"
        );
        assert_eq!(
            c.info()["max_payload"],
            2048,
            "rest of the config still applies"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", other)).is_err(),
            "nothing should listen on the config file's port {other}"
        );
    });
}

#[test]
fn cli_version() {
    for_each_tcp_server(|kind| {
        for flag in ["-v", "--version"] {
            let out = run_server_command(kind, &[flag], None, Duration::from_secs(3));
            assert_eq!(out.code(), Some(0), "{flag}: {out:?}");
            // nats-server prints `nats-server: v2.9.10`.
            let line = out.stdout.lines().next().unwrap_or_default();
            let (name, ver) = line
                .split_once(": v")
                .unwrap_or_else(|| panic!("{flag}: expected `<name>: v<semver>`, got {line:?}"));
            assert!(!name.is_empty(), "{flag}: {line:?}");
            let parts: Vec<&str> = ver.split('.').collect();
            assert!(
                parts.len() >= 3 && parts[..2].iter().all(|p| p.parse::<u32>().is_ok()),
                "{flag}: not a version: {line:?}"
            );
        }
    });
}

#[test]
fn cli_help() {
    for_each_tcp_server(|kind| {
        for flag in ["-h", "--help"] {
            let out = run_server_command(kind, &[flag], None, Duration::from_secs(3));
            assert_eq!(out.code(), Some(0), "{flag}: {out:?}");
            let text = format!("{}{}", out.stdout, out.stderr);
            assert!(text.contains("Usage: "), "{flag}: {text}");
            for f in [
                "--addr",
                "--port",
                "--http_port",
                "--config",
                "--version",
                "--help",
            ] {
                assert!(
                    text.contains(f),
                    "{flag}: usage should mention {f}:\n{text}"
                );
            }
        }
    });
}

#[test]
fn cli_unknown_flag() {
    // nats-server 2.9.10 prints Go's flag error and the usage, and exits 0 (its usage()
    // calls os.Exit(0)); the exit code is deliberately not asserted.
    for_each_tcp_server(|kind| {
        let out = run_server_command(kind, &["--bogus"], None, Duration::from_secs(3));
        assert!(out.status.is_some(), "must not start a server: {out:?}");
        assert!(
            out.stderr.contains("flag provided but not defined: -bogus"),
            "stderr: {}",
            out.stderr
        );
        assert!(out.stdout.contains("Usage: "), "stdout: {}", out.stdout);
    });
}

#[test]
fn cli_config_test_flag() {
    for_each_tcp_server(|kind| {
        let dir = TempDir::new("cli");
        let good = dir.write("good.conf", "port: 4222\nmax_payload: 2KB\n");
        let out = run_server_command(
            kind,
            &["-t", "-c", good.to_str().unwrap()],
            None,
            Duration::from_secs(3),
        );
        assert_eq!(out.code(), Some(0), "-t with a good config: {out:?}");
        assert!(
            format!("{}{}", out.stdout, out.stderr).contains("is valid"),
            "nats-server says `configuration file <path> is valid`: {out:?}"
        );
        let bad = dir.write("bad.conf", "port: 4222\nunknown_key: 5\n");
        let out = run_server_command(
            kind,
            &["-t", "-c", bad.to_str().unwrap()],
            None,
            Duration::from_secs(3),
        );
        assert!(
            out.status.is_some() && out.code() != Some(0),
            "-t with a bad config: {out:?}"
        );
    });
}

#[test]
fn cli_bad_config_syntax() {
    for_each_tcp_server(|kind| {
        let dir = TempDir::new("cli");
        // (contents, line the error must name)
        let cases = [
            ("port: 4222\nfoo bar baz {\n", 2),
            ("port: 4222\nauthorization {\n  token: x\n", 4),
            ("a: [1, 2\n", 2),
        ];
        for (i, (text, line)) in cases.into_iter().enumerate() {
            let path = dir.write(&format!("syntax{i}.conf"), text);
            let out = run_bad_config(kind, &path);
            // nats-server 2.9.10: `nats-server: Parse error on line N: '...'` (no file name
            // for lexer errors); `<file>:N:` is accepted too.
            let named = out.stderr.contains(&format!("line {line}"))
                || out.stderr.contains(&format!("{}:{line}:", path.display()));
            assert!(
                named,
                "{text:?}: stderr should name line {line}: {}",
                out.stderr
            );
        }
    });
}

#[test]
fn cli_bad_config_values() {
    for_each_tcp_server(|kind| {
        let dir = TempDir::new("cli");
        let path = dir.write("unknown.conf", "port: 4222\nunknown_key: 5\n");
        let out = run_bad_config(kind, &path);
        let want = format!("{}:2:1: unknown field \"unknown_key\"", path.display());
        assert!(
            out.stderr.contains(&want),
            "stderr should contain {want:?}: {}",
            out.stderr
        );

        // (contents, line, text that must appear)
        let cases = [
            ("port: 4222\nmax_payload: \"abc\"\n", 2, ""),
            ("ping_interval: \"abc\"\n", 1, "ping_interval"),
            ("max_payload: 100GB\n", 1, "max_payload"),
        ];
        for (i, (text, line, word)) in cases.into_iter().enumerate() {
            let path = dir.write(&format!("value{i}.conf"), text);
            let out = run_bad_config(kind, &path);
            let at = format!("{}:{line}:", path.display());
            assert!(
                out.stderr.contains(&at),
                "{text:?}: stderr should contain {at:?}: {}",
                out.stderr
            );
            assert!(
                out.stderr.contains(word),
                "{text:?}: stderr should mention {word:?}: {}",
                out.stderr
            );
        }
    });
}

#[test]
fn cli_config_missing_pieces() {
    for_each_tcp_server(|kind| {
        let dir = TempDir::new("cli");
        // Missing config file.
        let missing = dir.path().join("does-not-exist.conf");
        let out = run_bad_config(kind, &missing);
        assert!(
            out.stderr.contains("does-not-exist.conf"),
            "stderr: {}",
            out.stderr
        );
        // Missing include.
        let path = dir.write("inc.conf", "port: 4222\ninclude nothere.conf\n");
        let out = run_bad_config(kind, &path);
        assert!(
            out.stderr.contains("nothere.conf"),
            "stderr: {}",
            out.stderr
        );
        // Undefined variable.
        let path = dir.write("var.conf", "port: $UNDEFINED_VAR_X\n");
        let out = run_bad_config(kind, &path);
        assert!(
            out.stderr.contains("UNDEFINED_VAR_X"),
            "stderr: {}",
            out.stderr
        );
        // max_payload above max_pending is rejected.
        let path = dir.write("limits.conf", "max_pending: 256KB\n");
        let out = run_bad_config(kind, &path);
        assert!(
            out.stderr.contains("max_payload") && out.stderr.contains("max_pending"),
            "nats-server: `max_payload (1048576) cannot be higher than max_pending (262144)`; got: {}",
            out.stderr
        );
    });
}
