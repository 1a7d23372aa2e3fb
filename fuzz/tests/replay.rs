//! Replays the committed seed corpora and regression inputs through every target without
//! libFuzzer (`cargo test` in `fuzz/`), so a fix can be checked on stable in seconds.

use std::fs;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in [
        root.join("corpus").join(target),
        root.join("regressions").join(target),
    ] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy();
            // Only the committed files: seeds in the corpus, everything in regressions.
            if dir.ends_with(target)
                && dir.parent().unwrap().ends_with("corpus")
                && !name.starts_with("seed-")
            {
                continue;
            }
            let data = fs::read(&path).unwrap();
            eprintln!("{target}: {}", path.display());
            run(&data);
            n += 1;
        }
    }
    assert!(n > 0, "no inputs for {target}");
}

#[test]
fn server_parser() {
    replay("server_parser", rnats_fuzz::parsers::server_parser);
}

#[test]
fn client_parser() {
    replay("client_parser", rnats_fuzz::parsers::client_parser);
}

#[test]
fn connection() {
    replay("connection", rnats_fuzz::connection::connection);
}

#[test]
fn subjects() {
    replay("subjects", rnats_fuzz::subjects::subjects);
}

#[test]
fn config() {
    replay("config", rnats_fuzz::config::config);
}

#[test]
fn websocket() {
    replay("websocket", rnats_fuzz::websocket::websocket);
}
