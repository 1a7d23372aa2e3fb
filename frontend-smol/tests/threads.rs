//! `RNATS_SMOL_THREADS`: how many executor threads `rnats-server-smol` runs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rnats-server-smol");

/// Names of the threads of process `pid`.
fn thread_names(pid: u32) -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let comm = task.unwrap().path().join("comm");
        names.push(std::fs::read_to_string(comm).unwrap().trim().to_string());
    }
    names.sort();
    names
}

/// Names of the executor threads of process `pid` besides the main one.
fn executor_thread_names(pid: u32) -> Vec<String> {
    thread_names(pid)
        .into_iter()
        .filter(|n| n.starts_with("rnats-smol-"))
        .collect()
}

/// Start the server with `threads` (None: unset), wait until it is ready, and check that
/// its executor threads besides the main one are named `expected`.
///
/// A thread takes its name from inside itself once it runs: until then Linux shows its
/// creator's name. An executor thread that starts async-io's driver thread thus shows two
/// `rnats-smol-1` for a moment, so the names are read until they match or 10 s pass.
fn assert_executor_threads(threads: Option<&str>, expected: &[&str]) {
    let mut cmd = Command::new(BIN);
    cmd.args(["-a", "127.0.0.1", "-p", "-1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match threads {
        Some(n) => cmd.env("RNATS_SMOL_THREADS", n),
        None => cmd.env_remove("RNATS_SMOL_THREADS"),
    };
    let mut child = cmd.spawn().unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut line = String::new();
    while !line.contains("Server is ready") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "server ended early");
        assert!(Instant::now() < deadline, "server not ready");
    }
    let mut names = executor_thread_names(child.id());
    while names != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        names = executor_thread_names(child.id());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(names, expected, "RNATS_SMOL_THREADS={threads:?}");
}

#[test]
fn one_executor_thread_by_default_more_on_request() {
    assert_executor_threads(None, &[]);
    assert_executor_threads(Some("3"), &["rnats-smol-1", "rnats-smol-2"]);
}

#[test]
fn a_bad_thread_count_is_a_fatal_error() {
    for bad in ["0", "-1", "many", ""] {
        let out = Command::new(BIN)
            .args(["-p", "-1"])
            .env("RNATS_SMOL_THREADS", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("[FTL] RNATS_SMOL_THREADS must be a positive number or \"cores\""),
            "{bad:?}: {stderr}"
        );
    }
}
