//! `rnats-server-smol`: the same server as `rnats-server` — command line, config file,
//! monitoring, signals, logging — on smol's runtime pieces, in a lighter process. The
//! server itself is `rnats_host::serve`; the runtime is [`rnats_smol::Smol`].

use rnats_host::{serve, startup};
use rnats_smol::Smol;
use std::process::ExitCode;

fn main() -> ExitCode {
    startup::main("rnats-server-smol", |opts, log| {
        let rt = Smol::new();
        // One executor thread by default (the light server), or `RNATS_SMOL_THREADS` of
        // them sharing the tasks. Measured on the 2-core dev machine with `rnats-bench
        // compare --servers smol,tokio --rounds 5`: with two threads, tasks woken across
        // threads cost more than the parallelism gave (request/reply 0.69x of tokio, pub-1k
        // 0.46x); with one, every scenario is 0.93-1.66x of tokio at 0.5-1.0x its CPU.
        let threads = match executor_threads() {
            Ok(n) => n,
            Err(text) => {
                log.fatal(&text);
                return ExitCode::from(1);
            }
        };
        for i in 1..threads {
            let worker = rt.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("rnats-smol-{i}"))
                .spawn(move || worker.block_on(std::future::pending::<()>()));
            if let Err(e) = spawned {
                log.fatal(&format!("cannot start an executor thread: {e}"));
                return ExitCode::from(1);
            }
        }
        // The `websocket` block's listener (off without one) serves browsers from the
        // same server, as in `rnats-server`.
        let websocket = Box::new(rnats_ws::WebsocketGateway::<Smol>::new());
        // The server is a task like the others: `block_on` polls its main future whenever
        // the thread wakes, and an accept loop polled that often would try `accept` each
        // time.
        let server = rt.spawn_task(serve::run_with(rt.clone(), opts, log, vec![websocket]));
        rt.block_on(server)
    })
}

/// Executor threads: `RNATS_SMOL_THREADS` (a positive number, or `cores` for one per
/// core), else 1.
fn executor_threads() -> Result<usize, String> {
    let Some(value) = std::env::var_os("RNATS_SMOL_THREADS") else {
        return Ok(1);
    };
    let value = value.to_string_lossy();
    if value == "cores" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "RNATS_SMOL_THREADS must be a positive number or \"cores\", not {value:?}"
        )),
    }
}
