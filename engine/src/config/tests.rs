//! Config parser tests. Expected messages and values marked "observed" were taken from
//! nats-server 2.9.10 (`nats-server -c FILE -t`, and `/varz` of a server started with the
//! file); the tests themselves do not need the binary.

use super::*;
use crate::options::{
    AccountOptions, Permissions, ResponsePermission, SubjectPermission, TlsOptions, User,
    DEFAULT_AUTH_TIMEOUT, DEFAULT_LAME_DUCK_DURATION, DEFAULT_LAME_DUCK_GRACE_PERIOD,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONTROL_LINE, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_PENDING,
    DEFAULT_PING_INTERVAL, DEFAULT_PING_MAX, DEFAULT_PORT, DEFAULT_WRITE_DEADLINE,
};
use core::time::Duration;
use hashbrown::HashMap;

#[derive(Default)]
struct Mem {
    files: HashMap<String, String>,
    env: HashMap<String, String>,
}

impl Mem {
    fn new() -> Self {
        Mem::default()
    }
    fn file(mut self, path: &str, text: &str) -> Self {
        self.files.insert(path.to_string(), text.to_string());
        self
    }
    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }
}

impl ConfigSource for Mem {
    fn read_file(&self, path: &str) -> Result<String, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("open {path}: no such file or directory"))
    }
    fn env_var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// Loads with unknown keys as warnings, so tests can carry scratch keys; tests of the
/// strict default use `strict_err`.
fn load_with(src: &Mem, path: &str) -> Result<(Options, Vec<ConfigWarning>), ConfigError> {
    let mut opts = Options {
        strict: false,
        ..Options::default()
    };
    let w = load(&mut opts, path, src)?;
    Ok((opts, w))
}

fn try_text(text: &str) -> Result<(Options, Vec<ConfigWarning>), ConfigError> {
    load_with(&Mem::new().file("test.conf", text), "test.conf")
}

/// Like [`try_text`] with unknown keys as warnings (`strict` cleared).
fn try_text_lenient(text: &str) -> Result<(Options, Vec<ConfigWarning>), ConfigError> {
    let mut opts = Options {
        strict: false,
        ..Options::default()
    };
    let w = load(&mut opts, "test.conf", &Mem::new().file("test.conf", text))?;
    Ok((opts, w))
}

#[track_caller]
fn ok(text: &str) -> Options {
    match try_text(text) {
        Ok((o, _)) => o,
        Err(e) => panic!("unexpected error: {e}\nconfig:\n{text}"),
    }
}

#[track_caller]
fn warnings(text: &str) -> Vec<String> {
    match try_text(text) {
        Ok((_, w)) => w.iter().map(|w| w.to_string()).collect(),
        Err(e) => panic!("unexpected error: {e}\nconfig:\n{text}"),
    }
}

#[track_caller]
fn err(text: &str) -> String {
    match try_text(text) {
        Ok(_) => panic!("expected an error\nconfig:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn strict_err(text: &str) -> String {
    let mut opts = Options {
        strict: true,
        ..Options::default()
    };
    match load(&mut opts, "test.conf", &Mem::new().file("test.conf", text)) {
        Ok(_) => panic!("expected an error\nconfig:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn subjects(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ----- syntax ---------------------------------------------------------------------------

#[test]
fn key_value_separators() {
    for text in [
        "port: 4333",
        "port = 4333",
        "port 4333",
        "port:4333",
        "port=4333",
        "port :4333",
        "port\n4333",
        "  port:    4333   ",
        "\"port\": 4333",
        "'port' = 4333",
        "PORT: 4333",
        "Port 4333 # comment",
        "port 4333 // comment",
        "port: 4333;",
        "{ port: 4333 }",
        "{\n  port: 4333\n}\n",
        "{{{ port: 4333 ",
        "{ port: 4333 }}",
    ] {
        assert_eq!(ok(text).port, Some(4333), "{text:?}");
    }
}

#[test]
fn several_entries_per_line_and_comments() {
    let o = ok("# leading comment\n// another\nport: 4333; debug: true, trace: true } logtime: false\n# end");
    assert_eq!(o.port, Some(4333));
    assert!(o.debug && o.trace && !o.logtime);
    let o = ok("port: 4333 // c\ndebug: true # c\n// c\n# c");
    assert!(o.debug);
    // A lone `/` after a value is skipped (observed: valid in nats-server).
    assert_eq!(ok("server_name: x /\n").server_name.as_deref(), Some("x"));
    assert_eq!(ok("").port, Some(DEFAULT_PORT));
    assert_eq!(ok("# only a comment").port, Some(DEFAULT_PORT));
    // A key without a value at EOF is ignored (observed: `.5` is a valid file).
    ok(".5");
}

#[test]
fn strings() {
    let name = |v: &str| ok(&format!("server_name: {v}\n")).server_name.unwrap();
    assert_eq!(name("bare"), "bare");
    assert_eq!(name("bare # comment"), "bare");
    assert_eq!(name("'single \\t raw'"), "single \\t raw");
    // Observed via /varz: "a\tb\x41\"\\" → a<TAB>bA"\
    assert_eq!(name(r#""a\tb\x41\"\\""#), "a\tbA\"\\");
    assert_eq!(name(r#""\n\r""#), "\n\r");
    assert_eq!(name("a\\tb"), "a\tb");
    assert_eq!(name("\"  sp  \""), "  sp  ");
    assert_eq!(name("ab\"c"), "ab\"c");
    assert_eq!(name("\"$NOT_A_VAR\""), "$NOT_A_VAR");
    assert_eq!(name("\"é\""), "é");
    assert_eq!(name("localhost:4222"), "localhost:4222");
    // Block strings (observed: "\nfoo\n"; and "\nfoo\n)" when `)` is the last byte).
    assert_eq!(name("(\nfoo\n)"), "\nfoo\n");
    let o = ok("server_name: (\nfoo\n  )\nbar\n)\nport: 5\n");
    assert_eq!(o.server_name.as_deref(), Some("\nfoo\n  )\nbar\n"));
    assert_eq!(o.port, Some(5));
    let o = ok("server_name: (\nfoo\n)");
    assert_eq!(o.server_name.as_deref(), Some("\nfoo\n)"));
    // An IP-looking value is a string.
    assert_eq!(ok("host: 127.0.0.1").host, "127.0.0.1");
    // A `'` ends a bare string (observed error).
    assert_eq!(
        err("server_name: ab'cd"),
        "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'c' instead.'"
    );
}

#[test]
fn booleans() {
    for (v, b) in [
        ("true", true),
        ("TRUE", true),
        ("yes", true),
        ("Yes", true),
        ("on", true),
        ("ON", true),
        ("false", false),
        ("no", false),
        ("off", false),
        ("Off", false),
    ] {
        let o = ok(&format!("debug: {v}\nlogtime: {v}"));
        assert_eq!((o.debug, o.logtime), (b, b), "{v}");
    }
    // Quoted booleans are strings.
    assert_eq!(
        err("debug: \"true\""),
        "test.conf:1:0: interface conversion: interface {} is string, not bool"
    );
}

#[test]
fn integer_size_suffixes() {
    // Observed via /varz max_payload.
    for (v, n) in [
        ("1K", 1000),
        ("1k", 1000),
        ("1kb", 1024),
        ("1KB", 1024),
        ("1Kb", 1024),
        ("1ki", 1024),
        ("1KiB", 1024),
        ("1m", 1_000_000),
        ("2M", 2_000_000),
        ("1MB", 1 << 20),
        ("1mib", 1 << 20),
        ("64MB", 64 << 20),
        ("1024", 1024),
    ] {
        let o = ok(&format!("max_pending: 1GB\nmax_payload: {v}"));
        assert_eq!(o.max_payload, n, "{v}");
    }
    assert_eq!(ok("max_pending: 1G").max_pending, 1_000_000_000);
    assert_eq!(ok("max_pending: 2gb").max_pending, 2 << 30);
    // Not integers: strings (observed: "interface conversion ... string, not int64").
    for v in ["3b", "0x10", "1_000", "10s"] {
        assert_eq!(
            err(&format!("port: 1\nmax_payload: {v}")),
            "test.conf:2:1: interface conversion: interface {} is string, not int64",
            "{v}"
        );
    }
    // An unknown suffix sets nothing at all (observed: max_payload stays at its default).
    assert_eq!(ok("max_payload: 1kbb").max_payload, DEFAULT_MAX_PAYLOAD);
    // ...and leaves the key behind: the enclosing key is lost (observed).
    assert_eq!(
        strict_err("a { b: 1kbb }"),
        "test.conf:1:4: unknown field \"b\""
    );
    assert_eq!(
        err("max_payload: 99999999999999999999"),
        "integer '99999999999999999999' is out of the range"
    );
    assert_eq!(
        err("max_payload: 1 k"),
        "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'k' instead.'"
    );
}

#[test]
fn floats() {
    assert_eq!(
        ok("authorization { timeout: 1.5 }").authorization.timeout,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        err("max_payload: .5"),
        "Parse error on line 1: 'Floats must start with a digit'"
    );
    assert_eq!(
        err("max_payload: 1.x"),
        "Parse error on line 1: 'Floats must have a digit after the '.', but got 'x' instead.'"
    );
    assert_eq!(
        err("max_payload: 1.\n"),
        "Parse error on line 2: 'Floats must have a digit after the '.', but got '\\n' instead.'"
    );
    assert_eq!(
        err("port: 14700\nping_interval: 1.5s"),
        "Parse error on line 2: 'Expected a top-level value to end with a new line, comment or EOF, but got 's' instead.'"
    );
}

#[test]
fn negative_numbers() {
    assert_eq!(ok("port: -1").port, None);
    assert_eq!(
        err("max_payload: -x"),
        "Parse error on line 1: 'Expected a digit but got 'x'.'"
    );
    assert_eq!(
        err("max_payload: -\n"),
        "Parse error on line 2: 'Expected a digit but got '\\n'.'"
    );
}

#[test]
fn arrays() {
    let users = |text: &str| ok(text).authorization.users;
    let two = vec![
        User {
            username: "a".into(),
            password: "b".into(),
            permissions: None,
            account: None,
            allowed_connection_types: None,
        },
        User {
            username: "c".into(),
            password: "d".into(),
            permissions: None,
            account: None,
            allowed_connection_types: None,
        },
    ];
    assert_eq!(
        users("authorization { users: [ {user: a, password: b}, {user: c, password: d} ] }"),
        two
    );
    assert_eq!(
        users("authorization { users: [ {user: a, password: b}, {user: c, password: d}, ] }"),
        two
    );
    assert_eq!(
        users("authorization { users: [\n {user: a, password: b}\n {user: c, password: d}\n ] }"),
        two
    );
    assert_eq!(
        users("authorization {\n  users = [\n   # comment\n    {user: a, password: b} # x\n    // y\n {user: c, password: d}\n  ]\n}"),
        two
    );
    assert_eq!(users("authorization { users: [] }"), vec![]);
    assert_eq!(users("authorization { users: [\n] }"), vec![]);
    // Observed errors.
    assert_eq!(
        err("authorization { users: [ {user: a, password: b} {user: c, password: d} ] }"),
        "Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '{' instead.'"
    );
    assert_eq!(
        err("authorization { users: [ ,{user: a, password: b} ] }"),
        "Parse error on line 1: 'Unexpected array value terminator ','.'"
    );
    assert_eq!(
        err("a: [\n"),
        "Parse error on line 2: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'"
    );
    // An integer right before `]` is not an integer (observed).
    assert_eq!(
        err("listen: [1]\n"),
        "Parse error on line 2: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'"
    );
}

#[test]
fn maps() {
    assert_eq!(
        err("authorization {\n user: a"),
        "Parse error on line 2: 'Expected a map value terminator \",\" or a map terminator \"}\", but got '\0' instead.'"
    );
    assert_eq!(
        err("a { b: 1 x }"),
        "Parse error on line 1: 'Expected a map value terminator \",\" or a map terminator \"}\", but got 'x' instead.'"
    );
    assert_eq!(
        err("a { = }"),
        "Parse error on line 1: 'Unexpected key separator '='.'"
    );
    assert_eq!(
        err("a { ] }"),
        "Parse error on line 1: 'Unexpected array end ']' processing map.'"
    );
    assert_eq!(
        err("a: {"),
        "Parse error on line 1: 'Unexpected EOF processing map.'"
    );
    assert_eq!(
        err("a { b"),
        "Parse error on line 1: 'Unexpected EOF processing map key.'"
    );
    assert_eq!(
        err("a { 'b"),
        "Parse error on line 1: 'Unexpected EOF processing quoted map key.'"
    );
    assert_eq!(
        err("a { \"b"),
        "Parse error on line 1: 'Unexpected EOF processing double quoted map key.'"
    );
    // `authorization{` without a space makes `authorization{` the key.
    assert_eq!(
        err("authorization{ user: a }"),
        "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'a' instead.'"
    );
    let o = ok("authorization { \"user\": a; 'password': b }");
    assert_eq!(o.authorization.user.as_deref(), Some("a"));
    assert_eq!(o.authorization.password.as_deref(), Some("b"));
}

#[test]
fn other_syntax_errors() {
    for (text, msg) in [
        ("port:\n", "Parse error on line 2: 'Expected value but found new line'"),
        (": 3", "Parse error on line 1: 'Unexpected key separator ':''"),
        ("server_name: \"abc", "Parse error on line 1: 'Unexpected EOF.'"),
        ("server_name: (abc", "Parse error on line 1: 'Unexpected EOF processing block.'"),
        ("a: (foo)", "Parse error on line 1: 'Unexpected EOF processing block.'"),
        ("/ port: 4", "Parse error on line 1: 'Unexpected EOF.'"),
        (
            "server_name: \"a\\qb\"",
            "Parse error on line 1: 'Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'",
        ),
        (
            "a: \"x\\\ny\"",
            "Parse error on line 2: 'Invalid escape character '\\n'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'",
        ),
        (
            "a: \"\\x4\"",
            "Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got '4\"''",
        ),
        ("port: 10-20", "Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'"),
        (
            "a: 2016-05-04T18:53:41\n",
            "Parse error on line 2: 'Expected 'Z' in ISO8601 datetime, but found '\\n' instead.'",
        ),
        ("include\n", "Parse error on line 2: 'Expected include value but found new line'"),
        ("include [x]", "Parse error on line 1: 'Expected include value but found start of an array'"),
        ("include 5", "Parse error on line 1: 'Expected include value but found start of a number'"),
        ("include 'x.conf", "Parse error on line 1: 'Unexpected EOF in quoted include'"),
        ("include \"x.conf", "Parse error on line 1: 'Unexpected EOF in double quoted include'"),
    ] {
        assert_eq!(err(text), msg, "{text:?}");
    }
}

#[test]
fn datetimes_are_values() {
    // A datetime value is fine for an unknown key (a warning) and a type error elsewhere.
    let w = warnings("foo: 2016-05-04T18:53:41Z");
    assert_eq!(w, vec!["test.conf:1:0: unknown field \"foo\""]);
    assert_eq!(
        err("server_name: 2016-05-04T18:53:41Z"),
        "test.conf:1:0: interface conversion: interface {} is time.Time, not string"
    );
    assert_eq!(
        err("a: 2016-13-04T18:53:41Z"),
        "expected Zulu formatted DateTime, but got '2016-13-04T18:53:41Z'"
    );
}

#[test]
fn positions_follow_nats_server() {
    // Observed: keys on line 1 are 0-based, on later lines 1-based.
    assert_eq!(
        strict_err("port: 14700\nfoo: bar"),
        "test.conf:2:1: unknown field \"foo\""
    );
    assert_eq!(
        strict_err("authorization { user: a, password: b, foo: 1 }"),
        "test.conf:1:38: unknown field \"foo\""
    );
    assert_eq!(
        err("X: 14700\nport: $X\nauthorization { X: 5, timeout: $X, user: $X }"),
        "test.conf:3:36: interface conversion: interface {} is int64, not string"
    );
    assert_eq!(
        err("authorization { users: [ { user: x, permissions: { foo: 1 } } ] }"),
        "test.conf:1:51: Unknown field \"foo\" parsing permissions"
    );
    let e = try_text("\n\n   max_payload: x").unwrap_err();
    assert_eq!((e.line, e.column, e.kind), (3, 4, ConfigErrorKind::Value));
}

#[test]
fn several_errors_are_all_reported() {
    let e = try_text("port: x\ndebug: 5\n").unwrap_err();
    assert_eq!(e.additional.len(), 1);
    assert_eq!(
        e.to_string(),
        "test.conf:1:0: interface conversion: interface {} is string, not int64\n\
         test.conf:2:1: interface conversion: interface {} is int64, not bool"
    );
}

#[test]
fn failed_load_leaves_options_alone() {
    let src = Mem::new().file("a.conf", "port: 5\ndebug: true\nmax_payload: x");
    let mut opts = Options::default();
    assert!(load_into(&mut opts, "a.conf", &src).is_err());
    assert_eq!(opts, Options::default());
}

// ----- includes -------------------------------------------------------------------------

#[test]
fn includes() {
    let src = Mem::new()
        .file(
            "conf/main.conf",
            "include 'sub/x.conf'\nserver_name: $NAME\n",
        )
        .file(
            "conf/sub/x.conf",
            "port: 4333\ninclude \"../common.conf\"\n",
        )
        .file("conf/common.conf", "debug: true\nNAME: from_include\n");
    let (o, w) = load_with(&src, "conf/main.conf").unwrap();
    assert_eq!(o.port, Some(4333));
    assert!(o.debug);
    assert_eq!(o.server_name.as_deref(), Some("from_include"));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.config_file.as_deref(), Some("conf/main.conf"));

    // Inside a block, bare and quoted, case-insensitive keyword.
    let src = Mem::new()
        .file(
            "main.conf",
            "authorization {\n  INCLUDE auth.conf\n  timeout: 3\n}\n",
        )
        .file("auth.conf", "user: u; password: p");
    let (o, _) = load_with(&src, "main.conf").unwrap();
    assert_eq!(o.authorization.user.as_deref(), Some("u"));
    assert_eq!(o.authorization.password.as_deref(), Some("p"));
    assert_eq!(o.authorization.timeout, Some(secs(3)));

    // `include x; key: v` on one line.
    let src = Mem::new()
        .file("main.conf", "include \"x.conf\"; port: 5")
        .file("x.conf", "debug: true");
    let (o, _) = load_with(&src, "main.conf").unwrap();
    assert!(o.debug);
    assert_eq!(o.port, Some(5));
}

#[test]
fn include_paths_like_nats_server() {
    // An absolute include is joined to the including file's directory (observed:
    // "open etc/passwd: no such file or directory" for `include /etc/passwd` in ./a.conf).
    let src = Mem::new().file("a.conf", "include /etc/passwd");
    assert_eq!(
        load_with(&src, "a.conf").unwrap_err().to_string(),
        "error parsing include file '/etc/passwd', open etc/passwd: no such file or directory"
    );
    let src = Mem::new()
        .file("/srv/nats/a.conf", "include /etc/x.conf")
        .file("/srv/nats/etc/x.conf", "port: 7");
    assert_eq!(load_with(&src, "/srv/nats/a.conf").unwrap().0.port, Some(7));
    let src = Mem::new().file("a.conf", "include nope.conf");
    assert_eq!(
        load_with(&src, "a.conf").unwrap_err().to_string(),
        "error parsing include file 'nope.conf', open nope.conf: no such file or directory"
    );
}

#[test]
fn errors_in_included_files() {
    // Observed: value errors name the included file; parse errors are wrapped.
    let src = Mem::new()
        .file("main.conf", "include \"sub/x.conf\"")
        .file("sub/x.conf", "port: 14701\ninclude y.conf\n")
        .file("sub/y.conf", "debug: true\nmax_payload: x\n");
    assert_eq!(
        load_with(&src, "main.conf").unwrap_err().to_string(),
        "sub/y.conf:2:1: interface conversion: interface {} is string, not int64"
    );
    let src = Mem::new()
        .file("main.conf", "include \"sub/x.conf\"")
        .file("sub/x.conf", "port: 1\nmax_payload: 1.x\n");
    let e = load_with(&src, "main.conf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing include file 'sub/x.conf', Parse error on line 2: 'Floats must have a digit after the '.', but got 'x' instead.'"
    );
    assert_eq!((e.file.as_str(), e.line), ("sub/x.conf", 2));
}

#[test]
fn include_loops_are_errors_not_crashes() {
    let src = Mem::new().file("a.conf", "include a.conf");
    let e = load_with(&src, "a.conf").unwrap_err().to_string();
    assert!(e.contains("includes nested too deeply"), "{e}");
}

#[test]
fn missing_top_level_file() {
    let e = load_with(&Mem::new(), "nope.conf").unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::Io);
    assert_eq!(e.to_string(), "open nope.conf: no such file or directory");
}

// ----- variables ------------------------------------------------------------------------

#[test]
fn variables() {
    let o = ok("PORT: 4333\nport: $PORT\nNAME = \"srv\"\nserver_name: $NAME");
    assert_eq!(o.port, Some(4333));
    assert_eq!(o.server_name.as_deref(), Some("srv"));
    // Block scope: the inner definition shadows the outer one.
    let o = ok("T: 9\nauthorization {\n  T: 3\n  timeout: $T\n}\nmax_subs: $T");
    assert_eq!(o.authorization.timeout, Some(secs(3)));
    assert_eq!(o.max_subscriptions, 9);
    // Used variables are not unknown fields.
    assert!(warnings("P: 4333\nport: $P").is_empty());
    assert_eq!(
        warnings("P: 4333\nport: 1"),
        vec!["test.conf:1:0: unknown field \"P\""]
    );
    // Keys are case-insensitive for options: `PORT` is the port.
    assert_eq!(ok("PORT: 4333").port, Some(4333));
    // Variables hold any value: maps and arrays too.
    let o = ok("PERMS: { publish: \"a\" }\nauthorization { users: [ {user: u, password: p, permissions: $PERMS} ] }");
    assert_eq!(
        o.authorization.users[0].permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: subjects(&["a"]),
                deny: vec![]
            }),
            ..Permissions::default()
        })
    );
    // Observed.
    assert_eq!(
        err("port: $NOPE"),
        "variable reference for 'NOPE' on line 1 can not be found"
    );
    assert_eq!(
        err("FOO: 5\nauthorization { user: $FOO }"),
        "test.conf:2:17: interface conversion: interface {} is int64, not string"
    );
    // Defined later: not found.
    assert_eq!(
        err("port: $P\nP: 5"),
        "variable reference for 'P' on line 1 can not be found"
    );
}

#[test]
fn environment_variables() {
    let src = Mem::new()
        .file(
            "a.conf",
            "port: $P\nserver_name: $S\ndebug: $D\nauthorization { users: $U }\nmax_payload: $M",
        )
        .env("P", "4333")
        .env("S", "$T")
        .env("T", "chained")
        .env("D", "yes")
        .env("U", "[{user: a, password: b}]")
        .env("M", "2KB");
    let (o, _) = load_with(&src, "a.conf").unwrap();
    assert_eq!(o.port, Some(4333));
    assert_eq!(o.server_name.as_deref(), Some("chained"));
    assert!(o.debug);
    assert_eq!(o.authorization.users.len(), 1);
    assert_eq!(o.max_payload, 2048);
    // A file variable wins over the environment.
    let src = Mem::new().file("a.conf", "P: 1\nport: $P").env("P", "2");
    assert_eq!(load_with(&src, "a.conf").unwrap().0.port, Some(1));
    // The variable's text must parse (observed message).
    let src = Mem::new().file("a.conf", "server_name: $B").env("B", "a b");
    assert_eq!(
        load_with(&src, "a.conf").unwrap_err().to_string(),
        "variable reference for 'B' on line 1 could not be parsed: Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'b' instead.'"
    );
    // Empty value: an empty string.
    let src = Mem::new().file("a.conf", "server_name: $E").env("E", "");
    assert_eq!(load_with(&src, "a.conf").unwrap().0.server_name, None);
    // A loop is an error (nats-server overflows its stack).
    let src = Mem::new().file("a.conf", "port: $R").env("R", "$R");
    let e = load_with(&src, "a.conf").unwrap_err().to_string();
    assert!(e.ends_with("circular reference"), "{e}");
    // Included files see the environment but not the includer's variables.
    let src = Mem::new()
        .file("a.conf", "X: 1\ninclude b.conf")
        .file("b.conf", "port: $X")
        .env("X", "77");
    assert_eq!(load_with(&src, "a.conf").unwrap().0.port, Some(77));
}

// ----- keys -----------------------------------------------------------------------------

#[test]
fn listen_host_port() {
    // Observed via /varz (host, port, http_host).
    let hp = |t: &str| {
        let o = ok(t);
        (o.host, o.port, o.http_host)
    };
    let s = |x: &str| x.to_string();
    assert_eq!(
        hp("listen: 127.0.0.1:4333"),
        (s("127.0.0.1"), Some(4333), s("127.0.0.1"))
    );
    assert_eq!(hp("listen: 4333"), (s("0.0.0.0"), Some(4333), s("0.0.0.0")));
    assert_eq!(
        hp("listen: :4333"),
        (s("0.0.0.0"), Some(4333), s("0.0.0.0"))
    );
    assert_eq!(
        hp("listen: \"[::1]:4333\""),
        (s("::1"), Some(4333), s("::1"))
    );
    assert_eq!(
        hp("listen: localhost:4333"),
        (s("localhost"), Some(4333), s("localhost"))
    );
    assert_eq!(hp("listen: 0.0.0.0:-1").1, None);
    assert_eq!(hp("host: 127.0.0.1\nlisten: 4333").0, "0.0.0.0");
    assert_eq!(
        hp("net: 10.0.0.1\nport: 4333"),
        (s("10.0.0.1"), Some(4333), s("10.0.0.1"))
    );
    assert_eq!(hp("host: 10.0.0.1").0, "10.0.0.1");
    assert_eq!(hp("port: 0").1, Some(DEFAULT_PORT));
    assert_eq!(hp("port: -1").1, None);
    assert_eq!(
        err("listen: 127.0.0.1"),
        "test.conf:1:0: could not parse address string \"127.0.0.1\""
    );
    assert_eq!(
        err("listen: \"a:b\""),
        "test.conf:1:0: could not parse port \"b\""
    );
    assert_eq!(
        err("listen: true"),
        "test.conf:1:0: expected port or host:port, got bool"
    );
    assert!(err("port: 70000").contains("invalid port 70000"));
    assert_eq!(
        err("port: \"4222\""),
        "test.conf:1:0: interface conversion: interface {} is string, not int64"
    );
}

#[test]
fn monitoring() {
    let o = ok("http_port: 8222");
    assert_eq!((o.http_host.as_str(), o.http_port), ("0.0.0.0", Some(8222)));
    assert_eq!(ok("monitor_port: 8223").http_port, Some(8223));
    assert_eq!(ok("http_port: -1").http_port, Some(0));
    assert_eq!(ok("http_port: 0").http_port, None);
    let o = ok("http: 127.0.0.1:8222\nhost: 10.0.0.1");
    assert_eq!(
        (o.http_host.as_str(), o.http_port),
        ("127.0.0.1", Some(8222))
    );
    assert_eq!(o.host, "10.0.0.1");
    let o = ok("http: 8222\nhost: 10.0.0.1");
    assert_eq!(
        (o.http_host.as_str(), o.http_port),
        ("10.0.0.1", Some(8222))
    );
    // nats-server 2.9.10 has no http_host key.
    assert_eq!(
        strict_err("http_host: 127.0.0.1"),
        "test.conf:1:0: unknown field \"http_host\""
    );
}

#[test]
fn simple_keys() {
    let o = ok(
        "server_name: srv-1\ndebug: true\ntrace: true\nlogtime: false\n\
                log_file: /tmp/n.log\npid_file: /tmp/n.pid\nno_sublist_cache: true\n\
                ports_file_dir: /tmp\nlog_size_limit: 1MB\nmax_traced_msg_len: 100",
    );
    assert_eq!(o.server_name.as_deref(), Some("srv-1"));
    assert!(o.debug && o.trace && !o.logtime && o.no_sublist_cache);
    assert_eq!(o.log_file.as_deref(), Some("/tmp/n.log"));
    assert_eq!(o.pid_file.as_deref(), Some("/tmp/n.pid"));
    assert_eq!(o.ports_file_dir.as_deref(), Some("/tmp"));
    assert_eq!(o.log_size_limit, 1 << 20);
    assert_eq!(o.max_traced_msg_len, 100);
    let o = ok("logfile: a.log\npidfile: a.pid\ndisable_sublist_cache: true\ntrace_verbose: true");
    assert_eq!(o.log_file.as_deref(), Some("a.log"));
    assert_eq!(o.pid_file.as_deref(), Some("a.pid"));
    assert!(o.no_sublist_cache && o.trace);
    assert_eq!(
        err("debug: 1"),
        "test.conf:1:0: interface conversion: interface {} is int64, not bool"
    );
    assert_eq!(
        err("server_name: 1"),
        "test.conf:1:0: interface conversion: interface {} is int64, not string"
    );
}

#[test]
fn limits() {
    // Observed via /varz.
    let o = ok(
        "max_payload: 2048\nmax_connections: 5\nmax_subscriptions: 7\n\
                max_pending: 10MB\nmax_control_line: 1024\nping_max: 4",
    );
    assert_eq!(o.max_payload, 2048);
    assert_eq!(o.max_connections, 5);
    assert_eq!(o.max_subscriptions, 7);
    assert_eq!(o.max_pending, 10 << 20);
    assert_eq!(o.max_control_line, 1024);
    assert_eq!(o.ping_max, 4);
    let o = ok("max_conn: 6\nmax_subs: 8");
    assert_eq!((o.max_connections, o.max_subscriptions), (6, 8));
    // 0 means the default.
    let o =
        ok("max_payload: 0\nmax_connections: 0\nmax_pending: 0\nmax_control_line: 0\nping_max: 0");
    assert_eq!(o.max_payload, DEFAULT_MAX_PAYLOAD);
    assert_eq!(o.max_connections, DEFAULT_MAX_CONNECTIONS);
    assert_eq!(o.max_pending, DEFAULT_MAX_PENDING);
    assert_eq!(o.max_control_line, DEFAULT_MAX_CONTROL_LINE);
    assert_eq!(o.ping_max, DEFAULT_PING_MAX);
    // Negative means no limit.
    let o = ok("max_payload: -1\nmax_connections: -1\nmax_subscriptions: -1\nmax_control_line: -5\nping_max: -1");
    assert_eq!(o.max_payload, usize::MAX);
    assert_eq!(o.max_connections, usize::MAX);
    assert_eq!(o.max_subscriptions, 0);
    assert_eq!(o.max_control_line, usize::MAX);
    assert_eq!(o.ping_max, 0);
    assert_eq!(
        err("max_payload: 3000000000"),
        "test.conf:1:0: max_payload value is too big"
    );
    assert_eq!(
        err("Max_Control_Line: 3GB"),
        "test.conf:1:0: Max_Control_Line value is too big"
    );
}

#[test]
fn durations() {
    // Observed via /varz ping_interval.
    let pi = |v: &str| ok(&format!("ping_interval: {v}")).ping_interval;
    assert_eq!(pi("\"2m\""), secs(120));
    assert_eq!(pi("\"1h30m\""), secs(5400));
    assert_eq!(pi("1h30m"), secs(5400));
    assert_eq!(pi("\"500ms\""), Duration::from_millis(500));
    assert_eq!(pi("500ms"), Duration::from_millis(500));
    assert_eq!(pi("10s"), secs(10));
    assert_eq!(pi("\"1.5s\""), Duration::from_millis(1500));
    assert_eq!(pi("\"0\""), DEFAULT_PING_INTERVAL);
    assert_eq!(pi("60"), secs(60));
    // Unquoted 2m is the integer 2,000,000: seconds (observed: 2000000000000000 ns).
    assert_eq!(pi("2m"), secs(2_000_000));
    assert_eq!(
        warnings("ping_interval: 60"),
        vec![
            "test.conf:1:0: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"
        ]
    );
    let w = try_text("x: 1\nwrite_deadline: 3").unwrap().1;
    assert_eq!(w[1].kind, WarningKind::Deprecated);
    assert_eq!(
        w[1].to_string(),
        "test.conf:2:1: invalid use of field \"write_deadline\": write_deadline should be converted to a duration"
    );
    assert_eq!(ok("write_deadline: 3").write_deadline, secs(3));
    assert_eq!(
        ok("write_deadline: \"250ms\"").write_deadline,
        Duration::from_millis(250)
    );
    assert_eq!(
        ok("write_deadline: \"0s\"").write_deadline,
        DEFAULT_WRITE_DEADLINE
    );
    for (v, msg) in [
        ("\"10\"", "time: missing unit in duration \"10\""),
        ("\"abc\"", "time: invalid duration \"abc\""),
        ("\"1d\"", "time: unknown unit \"d\" in duration \"1d\""),
    ] {
        assert_eq!(
            err(&format!("port: 1\nping_interval: {v}")),
            format!("test.conf:2:1: error parsing ping_interval: {msg}")
        );
    }
    assert_eq!(
        err("port: 1\nping_interval: 1.5"),
        "test.conf:2:1: interface conversion: interface {} is float64, not int64"
    );
    assert!(err("ping_interval: \"-5s\"").contains("negative"));
}

#[test]
fn authorization_single_user_and_token() {
    let a = ok("authorization { user: derek, password: s3cr3t, timeout: 5 }").authorization;
    assert_eq!(a.user.as_deref(), Some("derek"));
    assert_eq!(a.password.as_deref(), Some("s3cr3t"));
    assert_eq!(a.timeout, Some(secs(5)));
    assert!(a.is_required());
    let o = ok("authorization { username: u, pass: p }");
    let a = &o.authorization;
    assert_eq!(
        (a.user.as_deref(), a.password.as_deref()),
        (Some("u"), Some("p"))
    );
    assert_eq!(o.auth_timeout(), DEFAULT_AUTH_TIMEOUT);
    let a = ok("Authorization { USER: a, PASSWORD: b }").authorization;
    assert_eq!(a.user.as_deref(), Some("a"));
    let a = ok("authorization { token: \"$2a$11$abc\" }").authorization;
    assert_eq!(a.token.as_deref(), Some("$2a$11$abc"));
    // A password without a user is accepted (observed).
    let a = ok("authorization { password: a }").authorization;
    assert_eq!((a.user, a.password.as_deref()), (None, Some("a")));
    // Timeouts (observed via /varz auth_timeout).
    let t = |v: &str| {
        ok(&format!("authorization {{ timeout: {v} }}"))
            .authorization
            .timeout
    };
    assert_eq!(t("0"), None);
    assert_eq!(t("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(t("\"3s\""), Some(secs(1)));
    // Observed errors.
    assert_eq!(
        err("authorization { user: a, token: b }"),
        "test.conf:1:0: Cannot have a user/pass and token"
    );
    assert_eq!(
        err("authorization { user: a, users: [] }"),
        "test.conf:1:0: Can not have a single user/pass and a users array"
    );
    assert_eq!(
        err("authorization { token: a, users: [{user: b}] }"),
        "test.conf:1:0: Can not have a token and a users array"
    );
    assert_eq!(
        err("authorization { user: 1 }"),
        "test.conf:1:16: interface conversion: interface {} is int64, not string"
    );
    assert_eq!(
        err("authorization: 1"),
        "test.conf:1:0: interface conversion: interface {} is int64, not map[string]interface {}"
    );
}

#[test]
fn authorization_users_and_permissions() {
    let a = ok(r#"
authorization {
  default_permissions: { subscribe: "public.>" }
  users: [
    { user: alice, password: a, permissions: { publish: "a.>", subscribe: ["b", "c.*"], allow_responses: true } }
    { user: bob, password: b, permissions: { pub: {allow: "x", deny: ["y", "z"]}, sub: { deny: "q" }, allow_responses: { max: 5, expires: "1m" } } }
    { username: carol, pass: c }
    { user: dave, password: d, permission: { publish: { deny: "secret.>" }, allow_responses: { max: -1, expires: "-1s" } } }
    { user: erin, password: e, authorization: { import: "i", export: "e queue" } }
  ]
}
"#)
    .authorization;
    assert_eq!(a.users.len(), 5);
    let alice = &a.users[0];
    assert_eq!(
        (alice.username.as_str(), alice.password.as_str()),
        ("alice", "a")
    );
    assert_eq!(
        alice.permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: subjects(&["a.>"]),
                deny: vec![]
            }),
            subscribe: Some(SubjectPermission {
                allow: subjects(&["b", "c.*"]),
                deny: vec![]
            }),
            response: Some(ResponsePermission::default()),
        })
    );
    assert_eq!(
        a.users[1].permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: subjects(&["x"]),
                deny: subjects(&["y", "z"])
            }),
            subscribe: Some(SubjectPermission {
                allow: vec![],
                deny: subjects(&["q"])
            }),
            response: Some(ResponsePermission {
                max_msgs: 5,
                expires: secs(60)
            }),
        })
    );
    // Users without permissions get the default ones.
    let default = Permissions {
        subscribe: Some(SubjectPermission {
            allow: subjects(&["public.>"]),
            deny: vec![],
        }),
        ..Permissions::default()
    };
    assert_eq!(a.users[2].username, "carol");
    assert_eq!(a.users[2].password, "c");
    assert_eq!(a.users[2].permissions, Some(default.clone()));
    assert_eq!(a.default_permissions, Some(default));
    assert_eq!(
        a.users[3].permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: vec![],
                deny: subjects(&["secret.>"])
            }),
            subscribe: None,
            response: Some(ResponsePermission {
                max_msgs: usize::MAX,
                expires: Duration::ZERO
            }),
        })
    );
    assert_eq!(
        a.users[4].permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: subjects(&["i"]),
                deny: vec![]
            }),
            subscribe: Some(SubjectPermission {
                allow: subjects(&["e queue"]),
                deny: vec![]
            }),
            response: None,
        })
    );
    // allow_responses alone turns the blanket publish allow off.
    let a = ok("authorization { users: [ {user: u, password: p, permissions: { allow_responses: true }} ] }").authorization;
    let p = a.users[0].permissions.clone().unwrap();
    assert_eq!(p.publish, Some(SubjectPermission::default()));
    assert!(p.response.is_some());
    // allow_responses: false is no permission at all; an empty map sets nothing.
    let a = ok("authorization { users: [ {user: u, password: p, permissions: { allow_responses: false, publish: {} }} ] }").authorization;
    assert_eq!(a.users[0].permissions, Some(Permissions::default()));
    // Single-user default permissions.
    let a = ok("authorization { user: u, password: p, permissions: { publish: [\"a\", \"b\"] } }")
        .authorization;
    assert_eq!(
        a.default_permissions.unwrap().publish.unwrap().allow,
        subjects(&["a", "b"])
    );
}

#[test]
fn permission_errors() {
    let users = |perms: &str| {
        err(&format!(
            "authorization {{ users: [ {{ user: x, permissions: {perms} }} ] }}"
        ))
    };
    // Observed.
    assert_eq!(
        users("{ publish: 1 }"),
        "Expected subject permissions to be a subject, or array of subjects, got int64"
    );
    assert_eq!(
        users("{ publish: \"a..b\" }"),
        "subject \"a..b\" is not a valid subject"
    );
    assert_eq!(
        users("{ publish: \"a q r\" }"),
        "subject \"a q r\" is not a valid subject"
    );
    assert_eq!(
        users("{ publish: {allow: \"a\", foo: 1} }"),
        "test.conf:1:73: Unknown field name \"foo\" parsing subject permissions, only 'allow' or 'deny' are permitted"
    );
    assert_eq!(
        users("{ allow_responses: 1 }"),
        "test.conf:1:51: error parsing response permissions, expected a boolean or a map"
    );
    assert_eq!(
        users("{ allow_responses: {max: \"x\"} }"),
        "test.conf:1:69: interface conversion: interface {} is string, not int64"
    );
    assert_eq!(
        users("{ allow_responses: {expires: 5} }"),
        "test.conf:1:69: error parsing expires, not a duration string"
    );
    assert_eq!(
        users("{ allow_responses: {expires: \"5x\"} }"),
        "test.conf:1:69: error parsing expires: time: unknown unit \"x\" in duration \"5x\""
    );
    assert_eq!(
        users("{ allow_responses: {foo: 1} }"),
        "test.conf:1:69: Unknown field \"foo\" parsing permissions"
    );
    assert_eq!(
        users("1"),
        "test.conf:1:36: Expected permissions to be a map/struct, got 1"
    );
    assert_eq!(
        users("{ publish: [\"a\", 1 ] }"),
        "test.conf:1:66: Subject in permissions array cannot be cast to string"
    );
    assert_eq!(
        users("{ subscribe: { deny: 1 } }"),
        "test.conf:1:64: Expected subject permissions to be a subject, or array of subjects, got int64"
    );
    assert_eq!(
        err("authorization { users: [ { password: x } ] }"),
        "test.conf:1:27: User entry requires a user"
    );
    assert_eq!(
        err("authorization { users: [ 1, 2 ] }"),
        "test.conf:1:25: Expected user entry to be a map/struct, got 1\n\
         test.conf:1:28: Expected user entry to be a map/struct, got 2"
    );
    assert_eq!(
        err("authorization { users: 1 }"),
        "test.conf:1:16: Expected users field to be an array, got 1"
    );
    assert_eq!(
        err("authorization { permissions: 1 }"),
        "test.conf:1:16: Expected permissions to be a map/struct, got 1"
    );
    // Unknown fields in blocks follow the unknown-field rule (observed positions).
    assert_eq!(
        strict_err("authorization { nkeys: 1 }"),
        "test.conf:1:16: unknown field \"nkeys\""
    );
    assert_eq!(
        strict_err("authorization { users: [ { user: x, account: 1 } ] }"),
        "test.conf:1:36: unknown field \"account\""
    );
    let w = warnings("authorization { users: [ { user: x, foo: 1 } ] }");
    assert_eq!(w, vec!["test.conf:1:36: unknown field \"foo\""]);
}

#[test]
fn nkey_users_are_read() {
    let key = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    let (o, w) = try_text(&format!(
        "authorization {{ default_permissions: {{ publish: \"x\" }}, users: [ {{ nkey: {key} }}, {{ user: a, password: b }} ] }}\n\
         accounts {{ A {{ users: [ {{ nkey: UAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSBT2P, permissions: {{ subscribe: \"y\" }} }} ] }} }}"
    ))
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.authorization.users.len(), 1);
    let nk = &o.authorization.nkey_users;
    assert_eq!(nk.len(), 1);
    assert_eq!(nk[0].public_key, key);
    // The block's default permissions, as for user/password users.
    assert_eq!(
        nk[0]
            .permissions
            .as_ref()
            .and_then(|p| p.publish.as_ref())
            .map(|p| p.allow.clone()),
        Some(vec!["x".to_string()])
    );
    let a = &o.accounts[0].nkey_users;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].account.as_deref(), Some("A"));
    assert!(a[0].permissions.is_some());
    assert_eq!(
        err(&format!(
            "authorization {{ users: [ {{ nkey: {key} }}, {{ nkey: {key} }} ] }}"
        )),
        format!("test.conf:1:0: Duplicate nkey \"{key}\" detected")
    );
    assert_eq!(
        err("authorization { users: [ { nkey: nope } ] }"),
        "test.conf:1:27: Not a valid public nkey for a user"
    );
    assert_eq!(
        err(&format!(
            "authorization {{ users: [ {{ nkey: {key}, user: a }} ] }}"
        )),
        "test.conf:1:91: Nkey users do not take usernames or passwords"
    );
}

#[test]
fn allowed_connection_types_are_read() {
    let o = ok("authorization { users: [ {user: a, password: a, allowed_connection_types: [\"websocket\", \"STANDARD\"]}, {user: b, password: b, allowed_connection_types: \"mqtt\"} ] }");
    let types: Vec<_> = o
        .authorization
        .users
        .iter()
        .map(|u| u.allowed_connection_types.clone())
        .collect();
    assert_eq!(
        types,
        [
            Some(vec!["WEBSOCKET".to_string(), "STANDARD".to_string()]),
            Some(vec!["MQTT".to_string()])
        ]
    );
    // Seen with nats-server 2.9.10 (which does not know IN_PROCESS yet; 2.10 does).
    assert_eq!(
        err("authorization { users: [ {user: a, password: a, allowed_connection_types: [\"FOO\"]} ] }"),
        "test.conf:1:48: invalid connection types [\"FOO\"]"
    );
}

#[test]
fn no_fast_producer_stall() {
    assert!(!ok("port: 4222").no_fast_producer_stall);
    assert!(ok("no_fast_producer_stall: true").no_fast_producer_stall);
}

#[test]
fn plaintext_passwords_are_noticed() {
    // nats-server warns "Plaintext passwords detected, use nkeys or bcrypt" for these.
    assert!(ok("authorization { user: a, password: b }").has_plaintext_passwords());
    assert!(ok("authorization { users: [ {user: a, password: b} ] }").has_plaintext_passwords());
    assert!(ok("accounts { A { users: [ {user: a, password: b} ] } }").has_plaintext_passwords());
    assert!(
        !ok("authorization { user: a, password: \"$2a$11$abcdefghijklmnopqrstuv\" }")
            .has_plaintext_passwords()
    );
    assert!(!ok("authorization { token: secret }").has_plaintext_passwords());
    assert!(!ok("port: 4222").has_plaintext_passwords());
}

#[test]
fn no_auth_user() {
    let o = ok("no_auth_user: bob\nauthorization { users: [ {user: bob, password: x} ] }");
    assert_eq!(o.authorization.no_auth_user.as_deref(), Some("bob"));
    assert_eq!(validate(&o), Ok(()));
    // Observed at start-up (not with -t).
    let o = ok("no_auth_user: bob");
    assert_eq!(
        validate(&o),
        Err("no_auth_user: \"bob\" present, but users are not defined".to_string())
    );
    let o = ok("no_auth_user: bob\nauthorization { users: [ {user: alice, password: x} ] }");
    assert_eq!(
        validate(&o),
        Err("no_auth_user: \"bob\" not present as user in authorization block or account configuration".to_string())
    );
}

#[test]
fn validation() {
    assert_eq!(validate(&Options::default()), Ok(()));
    // Observed at start-up.
    let o = ok("max_payload: 100MB");
    assert_eq!(
        validate(&o),
        Err("max_payload (104857600) cannot be higher than max_pending (67108864)".to_string())
    );
    assert_eq!(validate(&ok("max_payload: -1")), Ok(()));
    assert!(validate(&ok("max_pending: -1")).is_err());
}

#[test]
fn jetstream() {
    assert!(ok("jetstream: true").jetstream);
    assert!(ok("jetstream: enabled").jetstream);
    assert!(ok("jetstream: \"Enable\"").jetstream);
    assert!(!ok("jetstream: disabled").jetstream);
    let o = ok("jetstream { store_dir: \"/data/js\", max_mem: 1G, max_file: 10GB }");
    assert!(o.jetstream);
    assert_eq!(o.store_dir.as_deref(), Some("/data/js"));
    assert_eq!(o.jetstream_max_memory, Some(1_000_000_000));
    assert_eq!(o.jetstream_max_store, Some(10 << 30));
    let o = ok("jetstream { enabled: false, store: /x, max_memory_store: 5, max_file_store: 6 }");
    assert!(!o.jetstream);
    assert_eq!(o.store_dir.as_deref(), Some("/x"));
    assert_eq!(
        (o.jetstream_max_memory, o.jetstream_max_store),
        (Some(5), Some(6))
    );
    let o = ok("jetstream {}");
    assert!(o.jetstream);
    let o = ok("store_dir: /y\njetstream: true");
    assert_eq!(o.store_dir.as_deref(), Some("/y"));
    assert_eq!(ok("storedir: /z").store_dir.as_deref(), Some("/z"));
    let (_, w) = try_text("jetstream { domain: hub, store_dir: /a }").unwrap();
    assert_eq!(w[0].kind, WarningKind::Unsupported);
    // Observed.
    assert_eq!(
        err("port: 14700\njetstream: \"on\""),
        "test.conf:2:1: Expected 'enabled' or 'disabled' for string value, got 'on'"
    );
    assert_eq!(
        err("store_dir: /a\njetstream: {store_dir: \"/b\"}"),
        "test.conf:2:13: Duplicate 'store_dir' configuration"
    );
    assert_eq!(
        err("jetstream: 1"),
        "test.conf:1:0: Expected map, bool or string to define JetStream, got int64"
    );
    assert_eq!(
        err("jetstream { limits: 1 }"),
        "test.conf:1:12: Expected a map to define JetStreamLimits, got int64"
    );
    assert_eq!(
        strict_err("port: 14700\njetstream: {max_mem: 1G, max_file: 10G, store_dir: \"/tmp/nc/js\", foo: 1}"),
        "test.conf:2:66: unknown field \"foo\""
    );
}

#[test]
fn unknown_keys_are_errors_unless_lenient() {
    let (o, w) =
        try_text_lenient("port: 4333\nfoo: bar\nauthorization { user: a, password: b, baz: 1 }")
            .unwrap();
    assert_eq!(o.port, Some(4333));
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].kind, WarningKind::UnknownField);
    assert_eq!(w[0].field, "foo");
    assert_eq!(w[0].to_string(), "test.conf:2:1: unknown field \"foo\"");
    assert_eq!(w[1].to_string(), "test.conf:3:39: unknown field \"baz\"");
    // Observed messages (nats-server rejects unknown keys).
    assert_eq!(
        strict_err("port: 14700\nfoo: bar"),
        "test.conf:2:1: unknown field \"foo\""
    );
}

#[test]
fn unsupported_blocks_are_accepted_and_reported() {
    let text = r#"
port: 4333
client_advertise: "nats.example.com:4222"
cluster {
  name: c1
  listen: 0.0.0.0:6222
  routes: [ nats://a:6222, nats://b:6222 ]
}
gateway { name: g, port: 7222 }
leafnodes { port: 7422 }
mqtt { port: 1883 }
system_account: SYS
server_tags: [ "a:b" ]
"#;
    let (o, w) = try_text(text).unwrap();
    assert_eq!(o.port, Some(4333));
    let fields: Vec<&str> = w.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "client_advertise",
            "cluster",
            "gateway",
            "leafnodes",
            "mqtt",
            "system_account",
            "server_tags"
        ]
    );
    assert!(w.iter().all(|w| w.kind == WarningKind::Unsupported));
    assert_eq!(w[1].line, 4);
    // Observed.
    assert_eq!(
        err("port: 14700\nlame_duck_duration: \"10s\""),
        "test.conf:2:1: invalid lame_duck_duration of 10s, minimum is 30 seconds"
    );
}

// ----- lame duck ------------------------------------------------------------------------

#[test]
fn lame_duck_values_are_stored() {
    let o = ok("port: 4222");
    assert_eq!(o.lame_duck_duration, DEFAULT_LAME_DUCK_DURATION);
    assert_eq!(o.lame_duck_grace_period, DEFAULT_LAME_DUCK_GRACE_PERIOD);
    let (o, w) =
        try_text("lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"1m30s\"").unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.lame_duck_duration, secs(45));
    assert_eq!(o.lame_duck_grace_period, secs(90));
    let o = ok("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"250ms\"");
    assert_eq!(o.lame_duck_duration, secs(30));
    assert_eq!(o.lame_duck_grace_period, Duration::from_millis(250));
    // 0 is the default, as nats-server makes it when it starts.
    let o = ok("lame_duck_grace_period: \"0s\"");
    assert_eq!(o.lame_duck_grace_period, DEFAULT_LAME_DUCK_GRACE_PERIOD);
    // Observed.
    assert_eq!(
        err("lame_duck_grace_period: \"-1s\""),
        "test.conf:1:0: invalid lame_duck_grace_period, needs to be positive"
    );
    assert_eq!(
        err("lame_duck_duration: \"x\""),
        "test.conf:1:0: error parsing lame_duck_duration: time: invalid duration \"x\""
    );
    assert_eq!(
        err("lame_duck_duration: 30"),
        "test.conf:1:0: interface conversion: interface {} is int64, not string"
    );
}

// ----- accounts -------------------------------------------------------------------------

fn user(name: &str, password: &str, account: Option<&str>, perms: Option<Permissions>) -> User {
    User {
        username: name.to_string(),
        password: password.to_string(),
        permissions: perms,
        account: account.map(str::to_string),
        allowed_connection_types: None,
    }
}

fn publish_only(list: &[&str]) -> Permissions {
    Permissions {
        publish: Some(SubjectPermission {
            allow: subjects(list),
            deny: Vec::new(),
        }),
        ..Permissions::default()
    }
}

#[test]
fn accounts_with_users_and_permissions() {
    let text = r#"
accounts {
  A: {
    users: [
      {user: a, password: pa, permissions: {publish: "foo.>", subscribe: {deny: "bar"}}}
    ]
  }
  B: { users: [ {user: b, password: pb}, {user: c, password: pc} ] }
  EMPTY: {}
  $SYS: { users: [ {user: sys, password: s} ] }
}
"#;
    let (o, w) = try_text(text).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let a_perms = Permissions {
        publish: Some(SubjectPermission {
            allow: subjects(&["foo.>"]),
            deny: Vec::new(),
        }),
        subscribe: Some(SubjectPermission {
            allow: Vec::new(),
            deny: subjects(&["bar"]),
        }),
        response: None,
    };
    assert_eq!(
        o.accounts,
        vec![
            AccountOptions {
                name: "A".into(),
                users: vec![user("a", "pa", Some("A"), Some(a_perms))],
                nkey_users: Vec::new(),
            },
            AccountOptions {
                name: "B".into(),
                users: vec![
                    user("b", "pb", Some("B"), None),
                    user("c", "pc", Some("B"), None),
                ],
                nkey_users: Vec::new(),
            },
            AccountOptions {
                name: "EMPTY".into(),
                users: Vec::new(),
                nkey_users: Vec::new(),
            },
            // Only `$G` is reserved (observed: `$SYS` is a valid account name).
            AccountOptions {
                name: "$SYS".into(),
                users: vec![user("sys", "s", Some("$SYS"), None)],
                nkey_users: Vec::new(),
            },
        ]
    );
    // Account users are not `authorization` users (they have their own account).
    assert!(o.authorization.users.is_empty());
    // Keys are case-insensitive; `$variables` defined in the block are not accounts.
    let o = ok("accounts { P: {publish: x}, A: { USERS: [ {user: a, permissions: $P} ] } }");
    assert_eq!(o.accounts.len(), 1);
    assert_eq!(
        o.accounts[0].users,
        vec![user("a", "", Some("A"), Some(publish_only(&["x"])))]
    );
    // The list form names accounts without users.
    let o = ok("accounts: [ A, B ]");
    let names: Vec<&str> = o.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert!(o.accounts.iter().all(|a| a.users.is_empty()));
    // Other values are ignored, as nats-server does.
    assert!(ok("accounts: 5").accounts.is_empty());
    assert!(ok("accounts {}").accounts.is_empty());
}

#[test]
fn account_default_permissions() {
    let text = r#"
accounts {
  A: {
    users: [
      {user: a, password: a}
      {user: b, password: b, permissions: {publish: "b"}}
    ]
    default_permissions: { publish: "x.>" }
  }
  B: { users: [ {user: c, password: c} ] }
}
authorization { default_permissions: { publish: "g" }, users: [ {user: d, password: d} ] }
"#;
    let o = ok(text);
    assert_eq!(
        o.accounts[0].users,
        vec![
            user("a", "a", Some("A"), Some(publish_only(&["x.>"]))),
            user("b", "b", Some("A"), Some(publish_only(&["b"]))),
        ]
    );
    // An account's defaults are its own; `authorization`'s are for its users.
    assert_eq!(o.accounts[1].users, vec![user("c", "c", Some("B"), None)]);
    assert_eq!(
        o.authorization.users,
        vec![user("d", "d", None, Some(publish_only(&["g"])))]
    );
    // Only `default_permissions` is a key of an account block (observed).
    assert_eq!(
        strict_err("accounts { A: { default_permission: {} } }"),
        "test.conf:1:16: unknown field \"default_permission\""
    );
    assert_eq!(
        err("accounts { A: { default_permissions: 1 } }"),
        "test.conf:1:16: Expected permissions to be a map/struct, got 1"
    );
    assert_eq!(
        err("accounts { A: { default_permissions: { foo: 1 } } }"),
        "test.conf:1:39: Unknown field \"foo\" parsing permissions"
    );
}

#[test]
fn accounts_and_authorization_users() {
    let text = r#"
authorization { users: [ {user: g, password: g} ] }
accounts { A: { users: [ {user: a, password: a} ] } }
no_auth_user: a
"#;
    let o = ok(text);
    assert_eq!(o.authorization.users, vec![user("g", "g", None, None)]);
    assert_eq!(o.accounts[0].users, vec![user("a", "a", Some("A"), None)]);
    assert_eq!(validate(&o), Ok(()));
    // An empty users list next to account users is fine (observed), either way round.
    ok("authorization { users: [] }\naccounts { A: { users: [ {user: a} ] } }");
    ok("accounts { A: { users: [ {user: a} ] } }\nauthorization { users: [] }");
    // A single user is fine next to accounts without users (observed).
    ok("accounts { A: {} }\nauthorization { user: x }");
    // nats-server 2.9.10 has no `account` field for users (observed): an unknown field.
    assert_eq!(
        strict_err("authorization { users: [ {user: a, password: a, account: A} ] }"),
        "test.conf:1:48: unknown field \"account\""
    );
    assert_eq!(
        strict_err("accounts { A: { users: [ {user: a, account: A} ] } }"),
        "test.conf:1:35: unknown field \"account\""
    );
    let (o, w) =
        try_text_lenient("authorization { users: [ {user: a, password: a, account: A} ] }")
            .unwrap();
    assert_eq!(o.authorization.users, vec![user("a", "a", None, None)]);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].kind, WarningKind::UnknownField);
}

#[test]
fn no_auth_user_may_name_an_account_user() {
    // Observed at start-up.
    let o = ok("accounts { A: { users: [ {user: a, password: a} ] } }\nno_auth_user: a");
    assert_eq!(validate(&o), Ok(()));
    let o = ok("accounts { A: { users: [ {user: a, password: a} ] } }\nno_auth_user: b");
    assert_eq!(
        validate(&o),
        Err("no_auth_user: \"b\" not present as user in authorization block or account configuration".to_string())
    );
    let o = ok("accounts { A: {} }\nno_auth_user: a");
    assert_eq!(
        validate(&o),
        Err("no_auth_user: \"a\" present, but users are not defined".to_string())
    );
}

#[test]
fn duplicate_users_are_errors() {
    // All observed.
    assert_eq!(
        err("accounts { A: { users: [ {user: a, password: a} ] }, B: { users: [ {user: a, password: b} ] } }"),
        "test.conf:1:58: Duplicate user \"a\" detected"
    );
    assert_eq!(
        err("accounts { A: { users: [ {user: x}, {user: x} ] } }"),
        "test.conf:1:16: Duplicate user \"x\" detected"
    );
    assert_eq!(
        err("authorization { users: [ {user: a, password: a} ] }\naccounts { A: { users: [ {user: a, password: a} ] } }"),
        "test.conf:2:17: Duplicate user \"a\" detected"
    );
    assert_eq!(
        err("accounts { A: { users: [ {user: a, password: a} ] } }\nauthorization { users: [ {user: a, password: a} ] }"),
        "test.conf:2:1: Duplicate user \"a\" detected"
    );
    assert_eq!(
        err("authorization { users: [ {user: a, password: a}, {user: a, password: b} ] }"),
        "test.conf:1:0: Duplicate user \"a\" detected"
    );
    let key = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    assert_eq!(
        err(&format!(
            "authorization {{ users: [ {{nkey: {key}}} ] }}\naccounts {{ A: {{ users: [ {{nkey: {key}}} ] }} }}"
        )),
        format!("test.conf:2:17: Duplicate nkey \"{key}\" detected")
    );
}

#[test]
fn single_user_or_token_and_account_users() {
    // Observed (nats-server's usual order; it walks the blocks in random order).
    assert_eq!(
        err("authorization { user: u, password: p }\naccounts { A: { users: [ {user: a, password: a} ] } }"),
        "test.conf:2:17: Can not have a single user/pass and accounts"
    );
    assert_eq!(
        err("authorization { token: t }\naccounts { A: { users: [ {user: a, password: a} ] } }"),
        "test.conf:2:17: Can not have a token and accounts"
    );
    assert_eq!(
        err("accounts { A: { users: [ {user: a, password: a} ] } }\nauthorization { user: u, password: p }"),
        "test.conf:2:1: Can not have a single user/pass and a users array"
    );
    assert_eq!(
        err("accounts { A: { users: [ {user: a, password: a} ] } }\nauthorization { token: t }"),
        "test.conf:2:1: Can not have a token and a users array"
    );
}

#[test]
fn account_name_errors() {
    // All observed.
    assert_eq!(
        err("accounts { $G: {} }"),
        "test.conf:1:11: \"$G\" is a Reserved Account"
    );
    assert_eq!(
        err("accounts [ A, \"$G\" ]"),
        "test.conf:1:15: \"$G\" is a Reserved Account"
    );
    assert_eq!(
        err("accounts [ A, B, A ]"),
        "test.conf:1:17: Duplicate Account Entry: A"
    );
    assert_eq!(
        err("accounts [ A, 1 ]"),
        "test.conf:1:14: interface conversion: interface {} is int64, not string"
    );
    assert_eq!(
        err("accounts { A: 1 }"),
        "test.conf:1:11: Expected map entries for accounts"
    );
}

#[test]
fn account_block_keys() {
    let akey = "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA";
    let text = format!(
        r#"
accounts {{
  A: {{
    nkey: {akey}
    jetstream: enabled
    exports: [ {{stream: "a.>"}} ]
    imports: []
    mappings: {{ "x": "y" }}
    limits: {{ max_conn: 5 }}
    users: [ {{user: a, password: a}} ]
  }}
  B: {{ jetstream: {{ max_mem: 1G }}, maps: {{}} }}
}}
"#
    );
    let mut opts = Options::default();
    assert!(opts.strict);
    let w = load(&mut opts, "test.conf", &Mem::new().file("test.conf", &text)).unwrap();
    let fields: Vec<&str> = w.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "nkey",
            "jetstream",
            "exports",
            "imports",
            "mappings",
            "limits",
            "jetstream",
            "maps"
        ]
    );
    assert!(w.iter().all(|w| w.kind == WarningKind::Unsupported));
    assert_eq!(
        opts.accounts[0].users,
        vec![user("a", "a", Some("A"), None)]
    );
    // Unknown keys inside an account block follow `strict` (observed).
    assert_eq!(
        strict_err("accounts {\n  A: { foo: 1 }\n}"),
        "test.conf:2:8: unknown field \"foo\""
    );
    let (o, w) = try_text_lenient("accounts { A: { foo: 1, users: [ {user: a} ] } }").unwrap();
    assert_eq!(o.accounts[0].users.len(), 1);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].kind, WarningKind::UnknownField);
    // Type checks nats-server makes (observed).
    for (text, msg) in [
        (
            "accounts { A: { users: 1 } }",
            "Expected users field to be an array, got 1",
        ),
        (
            "accounts { A: { users: [ 1 ] } }",
            "test.conf:1:25: Expected user entry to be a map/struct, got 1",
        ),
        (
            "accounts { A: { nkey: nope } }",
            "test.conf:1:16: Not a valid public nkey for an account: \"nope\"",
        ),
        (
            "accounts { A: { nkey: 65 } }",
            "test.conf:1:16: Not a valid public nkey for an account: 'A'",
        ),
        (
            "accounts { A: { nkey: true } }",
            "test.conf:1:16: Not a valid public nkey for an account: %!q(bool=true)",
        ),
        (
            "accounts { A: { nkey: ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLB } }",
            "test.conf:1:16: Not a valid public nkey for an account: \"ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLB\"",
        ),
        (
            "accounts { A: { exports: 1 } }",
            "test.conf:1:16: Exports should be an array, got int64",
        ),
        (
            "accounts { A: { imports: {} } }",
            "test.conf:1:16: Imports should be an array, got map[string]interface {}",
        ),
        (
            "accounts { A: { jetstream: foo } }",
            "Expected 'enabled' or 'disabled' for string value, got 'foo'",
        ),
        (
            "accounts { A: { jetstream: 1 } }",
            "Expected map, bool or string to define JetStream, got int64",
        ),
        (
            "accounts { A: { mappings: 1 } }",
            "test.conf:1:16: interface conversion: interface {} is int64, not map[string]interface {}",
        ),
        (
            "accounts { A: { limits: 1 } }",
            "test.conf:1:16: Expected account limits to be a map/struct, got 1",
        ),
    ] {
        assert_eq!(err(text), msg, "{text}");
    }
}

#[test]
fn nkeys_are_checksummed() {
    // Observed: a wrong last character breaks the CRC.
    assert_eq!(
        err("authorization { users: [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF5} ] }"),
        "test.conf:1:26: Not a valid public nkey for a user"
    );
    // An account key is not a user key.
    assert_eq!(
        err("authorization { users: [ {nkey: ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA} ] }"),
        "test.conf:1:26: Not a valid public nkey for a user"
    );
}

#[test]
fn a_realistic_file() {
    let src = Mem::new()
        .file(
            "/etc/nats/nats.conf",
            r#"
# nats-server.conf
server_name: $SERVER_NAME
listen: 127.0.0.1:4333
http: 127.0.0.1:8333

max_payload: 2MB
max_pending: 128MB
max_connections: 1k
ping_interval: "30s"
ping_max: 3
write_deadline: "5s"

debug: false
trace: false
logtime: true
log_file: "/var/log/nats.log"
pid_file: '/var/run/nats.pid'

include ./auth.conf
no_auth_user: guest

jetstream {
  store_dir: /var/lib/nats
  max_mem: 1GB
}
"#,
        )
        .file(
            "/etc/nats/auth.conf",
            r#"
authorization {
  timeout: 0.5
  users = [
    {user: admin, password: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"}
    {user: guest, password: guest, permissions: {subscribe: "public.>", publish: "public.>"}}
  ]
}
"#,
        )
        .env("SERVER_NAME", "edge-1");
    let (o, w) = load_with(&src, "/etc/nats/nats.conf").unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.server_name.as_deref(), Some("edge-1"));
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", Some(4333)));
    assert_eq!(
        (o.http_host.as_str(), o.http_port),
        ("127.0.0.1", Some(8333))
    );
    assert_eq!(o.max_payload, 2 << 20);
    assert_eq!(o.max_pending, 128 << 20);
    assert_eq!(o.max_connections, 1000);
    assert_eq!(o.ping_interval, secs(30));
    assert_eq!(o.ping_max, 3);
    assert_eq!(o.write_deadline, secs(5));
    assert_eq!(o.log_file.as_deref(), Some("/var/log/nats.log"));
    assert_eq!(o.pid_file.as_deref(), Some("/var/run/nats.pid"));
    assert_eq!(o.authorization.timeout, Some(Duration::from_millis(500)));
    assert_eq!(o.authorization.users.len(), 2);
    assert!(o.authorization.users[0].password.starts_with("$2a$11$"));
    assert_eq!(o.authorization.no_auth_user.as_deref(), Some("guest"));
    assert!(o.jetstream);
    assert_eq!(o.store_dir.as_deref(), Some("/var/lib/nats"));
    assert_eq!(validate(&o), Ok(()));
}

#[test]
fn load_str_works_without_files() {
    let mut o = Options::default();
    let w = load_str(
        &mut o,
        "port: 1234\nhost: 10.1.1.1",
        "inline.conf",
        &Mem::new(),
    )
    .unwrap();
    assert!(w.is_empty());
    assert_eq!(o.port, Some(1234));
    assert_eq!(o.http_host, "10.1.1.1");
    assert_eq!(o.config_file, None);
}

#[test]
fn error_kinds_and_display() {
    let e = try_text("port: 1\nmax_payload: 1.x").unwrap_err();
    assert_eq!((e.kind, e.line), (ConfigErrorKind::Syntax, 2));
    let e = try_text("port: $X").unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::Other);
    let e = ConfigError {
        file: "f.conf".into(),
        line: 3,
        column: 7,
        message: "bad".into(),
        ..ConfigError::default()
    };
    assert_eq!(e.to_string(), "f.conf:3:7: bad");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn run(text: &str) {
        let src = Mem::new()
            .file("a.conf", text)
            .file("inc.conf", text)
            .env("E", text);
        let mut o = Options::default();
        let _ = load(&mut o, "a.conf", &src);
        let _ = load_str(&mut o, text, "b.conf", &src);
    }

    const PIECES: &[&str] = &[
        "port",
        "authorization",
        "users",
        "permissions",
        "publish",
        "allow_responses",
        "include",
        "inc.conf",
        "$E",
        "$port",
        ":",
        "=",
        " ",
        "\n",
        "\t",
        "{",
        "}",
        "[",
        "]",
        "(",
        ")\n",
        "\n)",
        ",",
        ";",
        "#",
        "//",
        "/",
        "\"",
        "'",
        "\\",
        "\\x",
        "\\xZ",
        "1",
        "-",
        ".",
        "k",
        "KB",
        "1.2.3",
        "2016-05-04T18:53:41Z",
        "true",
        "é",
        "\u{0}",
        "\r",
        "max",
        "expires",
        "user",
        "token",
        "timeout",
        "listen",
        "jetstream",
        "ping_interval",
        "\"1s\"",
        "0x",
        "accounts",
        "A",
        "$G",
        "default_permissions",
        "nkey",
        "exports",
        "limits",
        "mappings",
        "no_auth_user",
        "lame_duck_duration",
        "lame_duck_grace_period",
        "\"30s\"",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_text(text in ".{0,200}") {
            run(&text);
        }

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            run(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn config_like_soup(idx in proptest::collection::vec(0..PIECES.len(), 0..60)) {
            let text: String = idx.iter().map(|&i| PIECES[i]).collect();
            run(&text);
        }
    }
}

// ----- websocket ------------------------------------------------------------------------

#[test]
fn websocket_block_is_read() {
    let o = ok(r#"
websocket {
  host: 127.0.0.1
  port: 8080
  advertise: "ws.example.com:443"
  no_tls: true
  same_origin: true
  allowed_origins: ["http://a.com", "https://b.com:8443"]
  compression: true
  handshake_timeout: "3s"
  authorization { user: u, pass: p, timeout: 4 }
}
"#);
    let ws = o.websocket.expect("websocket block");
    assert_eq!(ws.host, "127.0.0.1");
    assert_eq!(ws.port, Some(8080));
    assert!(ws.enabled());
    assert_eq!(ws.advertise.as_deref(), Some("ws.example.com:443"));
    assert!(ws.no_tls && ws.same_origin && ws.compression);
    assert_eq!(
        ws.allowed_origins,
        subjects(&["http://a.com", "https://b.com:8443"])
    );
    assert_eq!(ws.handshake_timeout, Some(secs(3)));
    assert_eq!(ws.username.as_deref(), Some("u"));
    assert_eq!(ws.password.as_deref(), Some("p"));
    assert_eq!(ws.auth_timeout, Some(secs(4)));
    assert!(ws.auth_override());
    assert_eq!(
        validate(&ok("websocket { port: 8080, no_tls: true }")),
        Ok(())
    );
}

#[test]
fn websocket_ports_hosts_and_aliases() {
    let ws = |text: &str| ok(text).websocket.expect("websocket block");
    // -1: a random port; 0 or none: off (and no default host, as in nats-server's /varz).
    let random = ws("ws { port: -1, no_tls: true }");
    assert_eq!((random.port, random.host.as_str()), (Some(0), "0.0.0.0"));
    let off = ws("websocket { no_tls: true }");
    assert!(!off.enabled());
    assert_eq!(off.host, "");
    let listen = ws("websocket { listen: \"127.0.0.2:18081\" }");
    assert_eq!(
        (listen.host.as_str(), listen.port),
        ("127.0.0.2", Some(18081))
    );
    let listen_port = ws("WebSocket { Listen: 18081, NO_TLS: true }");
    assert_eq!(
        (listen_port.host.as_str(), listen_port.port),
        ("0.0.0.0", Some(18081))
    );
    let aliases = ws(
        r#"websocket { port: 1, origins: "http://a", compress: true, authentication { token: x }, net: "::1" }"#,
    );
    assert_eq!(aliases.allowed_origins, subjects(&["http://a"]));
    assert!(aliases.compression);
    assert_eq!(aliases.token.as_deref(), Some("x"));
    assert_eq!(aliases.host, "::1");
    assert_eq!(
        ws("websocket { port: 1, handshake_timeout: 2 }").handshake_timeout,
        Some(secs(2))
    );
    assert_eq!(
        ws("websocket { port: 1, handshake_timeout: 0 }").handshake_timeout,
        None
    );
    // The last block wins, as in nats-server.
    assert_eq!(
        ws("websocket { port: 1 }\nwebsocket { port: 2 }").port,
        Some(2)
    );
}

#[test]
fn websocket_errors_like_nats_server() {
    // Observed with nats-server 2.9.10 (`-c f -t`).
    assert_eq!(
        strict_err("websocket { port: 8080, no_tls: true, foo: 1 }"),
        "test.conf:1:38: unknown field \"foo\""
    );
    assert_eq!(
        err("websocket { port: \"x\", no_tls: true }"),
        "test.conf:1:12: interface conversion: interface {} is string, not int64"
    );
    assert_eq!(
        err("websocket { listen: \"127.0.0.1:x\", no_tls: true }"),
        "test.conf:1:12: could not parse port \"x\""
    );
    assert_eq!(
        err("websocket { listen: true }"),
        "test.conf:1:12: expected port or host:port, got bool"
    );
    assert_eq!(
        err("websocket { port: 8080, no_tls: true, handshake_timeout: \"bogus\" }"),
        "test.conf:1:38: time: invalid duration \"bogus\""
    );
    assert_eq!(
        err("websocket { port: 8080, no_tls: true, handshake_timeout: true }"),
        "test.conf:1:38: error parsing handshake timeout: unsupported type bool"
    );
    assert_eq!(
        err("websocket { port: 8080, no_tls: true, allowed_origins: 3 }"),
        "test.conf:1:38: error parsing allowed origins: unsupported type int64"
    );
    assert_eq!(
        err("websocket { port: 8080, no_tls: true, allowed_origins: [ \"http://a\", 3 ] }"),
        "test.conf:1:69: error parsing allowed origins: unsupported type in array int64"
    );
    assert_eq!(
        err("websocket { port: 8080, no_tls: true, same_origin: \"x\" }"),
        "test.conf:1:38: interface conversion: interface {} is string, not bool"
    );
    // A type error abandons the rest of the block; the other errors do not.
    assert_eq!(
        err("websocket { port: 8080, compression: 1, host: 3 }"),
        "test.conf:1:24: interface conversion: interface {} is int64, not bool"
    );
    assert_eq!(
        err("websocket { allowed_origins: 3, host: 3 }"),
        "test.conf:1:12: error parsing allowed origins: unsupported type int64\n\
         test.conf:1:32: interface conversion: interface {} is int64, not string"
    );
    assert_eq!(
        err("websocket { authorization { user: 1 }, host: 3 }"),
        "test.conf:1:28: interface conversion: interface {} is int64, not string\n\
         test.conf:1:12: runtime error: invalid memory address or nil pointer dereference"
    );
    assert_eq!(
        strict_err("websocket { authorization { users: [] } }"),
        "test.conf:1:28: unknown field \"users\""
    );
    assert_eq!(
        err("websocket: 8080"),
        "test.conf:1:0: Expected websocket to be a map, got int64"
    );
}

const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

/// Load `text` as t.conf next to a certificate (s.pem), its key (s.key) and a file with no
/// PEM in it (x.txt).
fn with_cert_files(text: &str) -> Result<Options, String> {
    let src = Mem::new()
        .file("t.conf", text)
        .file("s.pem", TEST_CERT)
        .file("s.key", TEST_KEY)
        .file("x.txt", "subjectAltName=DNS:localhost\n");
    load_with(&src, "t.conf")
        .map(|(o, _)| o)
        .map_err(|e| e.to_string())
}

#[test]
fn websocket_tls_block_reads_the_certificate_files() {
    let o = with_cert_files(
        "websocket { port: 8443, tls { cert_file: s.pem, key_file: s.key, ca_file: s.pem, verify: true, timeout: 3 } }",
    )
    .unwrap();
    let ws = o.websocket.unwrap();
    let tls = ws.tls.clone().unwrap();
    assert_eq!(tls.cert_file.as_deref(), Some("s.pem"));
    assert_eq!(tls.key_file.as_deref(), Some("s.key"));
    assert_eq!(tls.ca_file.as_deref(), Some("s.pem"));
    assert_eq!(tls.cert_pem.as_deref(), Some(TEST_CERT));
    assert_eq!(tls.key_pem.as_deref(), Some(TEST_KEY));
    assert_eq!(tls.ca_pem.as_deref(), Some(TEST_CERT));
    assert!(tls.verify);
    assert_eq!(tls.timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        validate(
            &with_cert_files("websocket { port: 8443, tls { cert_file: s.pem, key_file: s.key } }")
                .unwrap()
        ),
        Ok(())
    );
    // Printing the options never shows the key.
    assert!(!format!("{tls:?}").contains("PRIVATE"));
    // An empty block is accepted (nats-server then fails every handshake).
    let empty = with_cert_files("websocket { port: 8443, tls {} }").unwrap();
    assert_eq!(empty.websocket.unwrap().tls, Some(TlsOptions::default()));
    let duration =
        with_cert_files("websocket { port: 8443, tls { timeout: \"1500ms\" } }").unwrap();
    assert_eq!(
        duration.websocket.unwrap().tls.unwrap().timeout,
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn websocket_tls_errors_like_nats_server() {
    // Each seen with nats-server 2.9.10 (`nats-server -c t.conf`), the block on line 2.
    let e =
        |tls: &str| with_cert_files(&format!("websocket {{ port: 18443,\n {tls} }}")).unwrap_err();
    assert_eq!(
        e("tls { cert_file: s.pem }"),
        "t.conf:2:2: missing 'key_file' in TLS configuration"
    );
    assert_eq!(
        e("tls { key_file: s.key }"),
        "t.conf:2:2: missing 'cert_file' in TLS configuration"
    );
    assert_eq!(
        e("tls { cert_file: nope.pem, key_file: s.key }"),
        "t.conf:2:2: error parsing X509 certificate/key pair: open nope.pem: no such file or directory"
    );
    assert_eq!(
        e("tls { cert_file: s.pem, key_file: nope }"),
        "t.conf:2:2: error parsing X509 certificate/key pair: open nope: no such file or directory"
    );
    assert_eq!(
        e("tls { cert_file: x.txt, key_file: s.key }"),
        "t.conf:2:2: error parsing X509 certificate/key pair: tls: failed to find any PEM data in certificate input"
    );
    assert_eq!(
        e("tls { cert_file: s.pem, key_file: x.txt }"),
        "t.conf:2:2: error parsing X509 certificate/key pair: tls: failed to find any PEM data in key input"
    );
    assert_eq!(
        e("tls { cert_file: s.key, key_file: s.key }"),
        "t.conf:2:2: error parsing X509 certificate/key pair: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"
    );
    assert_eq!(
        e("tls { cert_file: s.pem, key_file: s.pem }"),
        "t.conf:2:2: error parsing X509 certificate/key pair: tls: found a certificate rather than a key in the PEM for the private key"
    );
    assert_eq!(
        e("tls { cert_file: s.pem, key_file: s.key, ca_file: nope }"),
        "t.conf:2:2: open nope: no such file or directory"
    );
    assert_eq!(
        e("tls { cert_file: s.pem, key_file: s.key, ca_file: x.txt }"),
        "t.conf:2:2: failed to parse root ca certificate"
    );
    assert_eq!(
        e("tls { cert_file: 1 }"),
        "t.conf:2:8: error parsing tls config, expected 'cert_file' to be filename"
    );
    assert_eq!(
        e("tls { key_file: 1 }"),
        "t.conf:2:8: error parsing tls config, expected 'key_file' to be filename"
    );
    assert_eq!(
        e("tls { ca_file: 1 }"),
        "t.conf:2:8: error parsing tls config, expected 'ca_file' to be filename"
    );
    assert_eq!(
        e("tls { verify: \"x\" }"),
        "t.conf:2:8: error parsing tls config, expected 'verify' to be a boolean"
    );
    assert_eq!(
        e("tls { timeout: \"x\" }"),
        "t.conf:2:8: error parsing tls config, 'timeout' time: invalid duration \"x\""
    );
    assert_eq!(
        e("tls { cert_file: s.pem, key_file: s.key, hello: 1 }"),
        "t.conf:2:43: error parsing tls config, unknown field [\"hello\"]"
    );
    assert_eq!(
        e("tls: 1"),
        "t.conf:2:2: interface conversion: interface {} is int64, not map[string]interface {}"
    );
    // Not in nats-server: options rnats cannot honour that decide whom to trust.
    assert_eq!(
        e("tls { verify_and_map: true }"),
        "t.conf:2:8: error parsing tls config, \"verify_and_map\" is not supported by rnats yet"
    );
}

#[test]
fn top_level_tls_block_is_the_client_ports() {
    let o = with_cert_files("tls { cert_file: s.pem, key_file: s.key, timeout: 0.5 }").unwrap();
    let tls = o.tls.clone().unwrap();
    assert_eq!(tls.cert_pem.as_deref(), Some(TEST_CERT));
    assert_eq!(o.tls_timeout(), Duration::from_millis(500));
    assert_eq!(Options::default().tls_timeout(), Duration::from_secs(2));
    // nats-server's default auth timeout follows the TLS timeout.
    assert_eq!(o.auth_timeout(), Duration::from_millis(1500));
    assert_eq!(Options::default().auth_timeout(), Duration::from_secs(2));
    let set = with_cert_files(
        "tls { cert_file: s.pem, key_file: s.key }\nauthorization { token: t, timeout: 1 }",
    )
    .unwrap();
    assert_eq!(set.auth_timeout(), Duration::from_secs(1));
    assert!(o.websocket.is_none());
    // Same errors as inside `websocket`, at the top-level key.
    assert_eq!(
        with_cert_files("port: 4222\ntls { cert_file: s.pem }").unwrap_err(),
        "t.conf:2:1: missing 'key_file' in TLS configuration"
    );
}

#[test]
fn tls_handshake_first_values() {
    use crate::options::HandshakeFirst;
    let first = |value: &str| {
        with_cert_files(&format!("tls {{ handshake_first: {value} }}"))
            .map(|o| o.tls.unwrap().handshake_first)
    };
    assert_eq!(first("true"), Ok(HandshakeFirst::On));
    assert_eq!(first("false"), Ok(HandshakeFirst::Off));
    assert_eq!(first("\"on\""), Ok(HandshakeFirst::On));
    assert_eq!(
        first("auto"),
        Ok(HandshakeFirst::Fallback(Duration::from_millis(50)))
    );
    assert_eq!(
        first("\"300ms\""),
        Ok(HandshakeFirst::Fallback(Duration::from_millis(300)))
    );
    assert_eq!(
        first("\"soon\""),
        Err("t.conf:1:6: field \"handshake_first\"'s value \"soon\" is invalid".to_string())
    );
    assert_eq!(
        first("1"),
        Err(
            "t.conf:1:6: field \"handshake_first\" should be a boolean or a string, got int64"
                .to_string()
        )
    );
    assert_eq!(
        with_cert_files("tls { first: true }").map(|o| o.tls.unwrap().handshake_first),
        Ok(HandshakeFirst::On)
    );
}

#[test]
fn websocket_tls_tuning_fields_are_warnings() {
    let src = Mem::new().file(
        "t.conf",
        "websocket { port: 1, tls { cipher_suites: [a], min_version: \"1.2\" } }",
    );
    let (o, warnings) = load_with(&src, "t.conf").unwrap();
    assert!(o.websocket.unwrap().tls.is_some());
    let fields: Vec<_> = warnings
        .iter()
        .map(|w| (w.field.as_str(), w.kind))
        .collect();
    assert_eq!(
        fields,
        [
            ("cipher_suites", WarningKind::Unsupported),
            ("min_version", WarningKind::Unsupported)
        ]
    );
}

#[test]
fn websocket_validation_like_nats_server() {
    // Observed with nats-server 2.9.10 at startup (`-t` does not validate).
    let check = |text: &str| validate(&ok(text));
    assert_eq!(
        check("websocket { port: 18080 }"),
        Err("websocket requires TLS configuration".to_string())
    );
    assert_eq!(
        check("websocket { port: 0 }"),
        Ok(()),
        "a listener that is off"
    );
    assert_eq!(
        check("websocket { port: 18080, no_tls: true, allowed_origins: [\":::bad\"] }"),
        Err(
            "unable to parse allowed origin: parse \":::bad\": missing protocol scheme".to_string()
        )
    );
    assert_eq!(
        check("websocket { port: 18080, no_tls: true, no_auth_user: \"bob\" }"),
        Err("no_auth_user: \"bob\" present, but users are not defined".to_string())
    );
    let users = "authorization { users: [{user: a, pass: b}] }\n";
    assert_eq!(
        check(&format!("{users}websocket {{ port: 18080, no_tls: true, no_auth_user: x }}")),
        Err("no_auth_user: \"x\" not present as user in authorization block or account configuration".to_string())
    );
    assert_eq!(
        check(&format!(
            "{users}websocket {{ port: 18080, no_tls: true, no_auth_user: a }}"
        )),
        Ok(())
    );
    assert_eq!(
        check(&format!("{users}websocket {{ port: 18080, no_tls: true, authorization {{ user: a, pass: b }} }}")),
        Err("websocket authentication username not compatible with presence of users/nkeys".to_string())
    );
    assert_eq!(
        check(&format!(
            "{users}websocket {{ port: 18080, no_tls: true, authorization {{ token: x }} }}"
        )),
        Err(
            "websocket authentication token not compatible with presence of users/nkeys"
                .to_string()
        )
    );
    assert_eq!(
        check("websocket { port: 18080, no_tls: true, jwt_cookie: x }"),
        Err("trusted operators or trusted keys configuration is required for JWT authentication via cookie \"x\"".to_string())
    );
}
