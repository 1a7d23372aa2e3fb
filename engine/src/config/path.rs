//! Go's `path/filepath` `Clean`, `Dir` and `Join` (Unix flavour), which nats-server uses to
//! resolve `include` paths: the included path is joined to the directory of the including
//! file *even when it is absolute* (`include /etc/x.conf` in `a/b.conf` reads
//! `a/etc/x.conf`), exactly as nats-server 2.9 does.

use crate::prelude::*;

/// Go's `filepath.Clean`.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(p) if *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// Go's `filepath.Dir`.
pub(crate) fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".to_string(),
    }
}

/// Go's `filepath.Join` of two elements.
pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean() {
        for (i, o) in [
            ("", "."),
            (".", "."),
            ("a/b/../c", "a/c"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a//b/./c/", "a/b/c"),
            ("/", "/"),
            ("a/..", "."),
        ] {
            assert_eq!(clean(i), o, "{i}");
        }
    }

    #[test]
    fn go_dir_join() {
        assert_eq!(dir("a.conf"), ".");
        assert_eq!(dir("/a.conf"), "/");
        assert_eq!(dir("sub/x.conf"), "sub");
        assert_eq!(dir("/tmp/nc/x.conf"), "/tmp/nc");
        assert_eq!(join(".", "x.conf"), "x.conf");
        assert_eq!(join(".", "/etc/passwd"), "etc/passwd");
        assert_eq!(join("/tmp/nc", "/etc/x"), "/tmp/nc/etc/x");
        assert_eq!(join("sub", "../y.conf"), "y.conf");
        assert_eq!(join("", "x"), "x");
    }
}
