//! `rnats-server-smol`: the same server as `rnats-server` — command line, config file,
//! monitoring, signals, logging — on smol's runtime pieces, in a lighter process. The
//! server itself is `rnats_host::serve`; the runtime is [`rnats_smol::Smol`].

use rnats_host::{serve, startup};
use rnats_smol::Smol;
use std::process::ExitCode;

fn main() -> ExitCode {
    startup::main("rnats-server-smol", |opts, log| {
        let rt = Smol::new();
        // One executor shared by a thread per core (this one included): each thread runs
        // whichever task is ready, and one with nothing to run waits on the reactor. On a
        // 2-core machine one thread measured the same as two (pub→sub rate, and RSS within
        // 0.2 MB); a thread per core keeps a busy server scaling on larger machines.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
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
