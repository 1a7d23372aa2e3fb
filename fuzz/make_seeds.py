#!/usr/bin/env python3
"""Write the committed seed corpora (fuzz/corpus/<target>/seed-*). Run from anywhere:
    python3 fuzz/make_seeds.py
The byte layouts are documented at the top of each fuzz/src/*.rs module."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.remove(os.path.join(d, name))
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(s)


def hpub(kind, subject, extra, headers, payload):
    """HPUB/HMSG with correct sizes; `extra` is ' sid' / ' sid reply' / ' reply'."""
    total = len(headers) + len(payload)
    return b"%s %s%s %d %d\r\n%s%s\r\n" % (kind, subject, extra, len(headers), total, headers, payload)


HDR = b"NATS/1.0\r\nFoo: bar\r\n\r\n"

# --- parsers: [flags][max_control_line][max_payload][n splits] data [n x u16 LE offsets]


def parser_seed(data, flags=1, cl=255, pl=255, cuts=()):
    return bytes([flags, cl, pl, len(cuts)]) + data + b"".join(struct.pack("<H", c) for c in cuts)


server_streams = [
    b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nPING\r\n',
    b"SUB foo 1\r\nSUB bar.* q 2\r\nUNSUB 1\r\nUNSUB 2 5\r\nsub \tfoo.> 3\n",
    b"PUB foo 5\r\nhello\r\nPUB foo reply 0\r\n\r\npub  x\t3\r\nabc\r\n",
    hpub(b"HPUB", b"foo", b" reply", HDR, b"hello") + hpub(b"HPUB", b"bar", b"", HDR, b""),
    b"+OK\r\nINFO {}\r\nPONG\r\nping\r\nPING junk\n",
    b"-ERR 'x'\r\n",
]
server = [parser_seed(s) for s in server_streams]
server.append(parser_seed(server_streams[0] + server_streams[2], cuts=(3, 40, 61, 70)))
server.append(parser_seed(b"PUB foo 5\r\nhello\r\nSUB abcdefgh 1\r\n", cl=12, pl=4))
server.append(parser_seed(b'CONNECT {"user":"a","pass":"b"}\r\nPING\r\n', flags=3))
server.append(parser_seed(b"PUB foo 1048577\r\n" + b"PUB foo 4\r\nhel", flags=0))
write("server_parser", server)

client_streams = [
    b'INFO {"server_id":"NABC","max_payload":1048576,"headers":true}\r\n+OK\r\nPING\r\nPONG\r\n',
    b"MSG foo 1 5\r\nhello\r\nMSG foo.bar 22 _INBOX.x 0\r\n\r\n",
    hpub(b"HMSG", b"foo", b" 1 reply", HDR, b"hello") + hpub(b"HMSG", b"foo", b" 2", HDR, b""),
    b"-ERR 'Unknown Protocol Operation'\r\n-ERR  'Authorization Violation' \r\n",
    b"msg \tfoo\n1 3\r\nabc\r\n",
]
client = [parser_seed(s, flags=0) for s in client_streams]
client.append(parser_seed(client_streams[0] + client_streams[1], flags=0, cuts=(5, 70, 90)))
client.append(parser_seed(b"MSG foo 1 5\r\nhello\r\n", flags=0, cl=6, pl=4))
write("client_parser", client)

# --- connection: see fuzz/src/connection.rs


def step_bytes(slot, data):
    assert len(data) < 1024
    return bytes([slot, 0]) + struct.pack("<H", len(data)) + data


def step_time(ms, seconds=False):
    return bytes([0, 3]) + struct.pack("<H", ms) + bytes([1 if seconds else 0])


def step_drain(slot):
    return bytes([slot, 5])


def step_close(slot, reason=0):
    return bytes([slot, 6, reason])


def step_reopen_or_deadline(slot):
    return bytes([slot, 7])


def step_timeout(slot):
    return bytes([slot, 4])


def setup(mode=0, extra=b"", conns=2):
    return bytes([mode]) + extra + struct.pack("<Q", 0x1234_5678_9ABC_DEF0) + bytes([conns - 2])


CONNECT_PLAIN = b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
conn = []
conn.append(
    setup()
    + step_bytes(0, CONNECT_PLAIN + b"SUB foo 1\r\nSUB bar.* q 2\r\nSUB > 3\r\nPING\r\n")
    + step_bytes(1, b'CONNECT {"verbose":true}\r\nPUB foo 5\r\nhello\r\nPUB bar.x reply 2\r\nhi\r\n')
    + step_drain(0)
    + step_drain(1)
    + step_bytes(0, b"UNSUB 1 1\r\n" + hpub(b"HPUB", b"bar.y", b" _INBOX.1", HDR, b"hey"))
    + step_bytes(1, b"PUB foo 2\r\nhi\r\nPUB foo 2\r\nhi\r\nPUB nobody _INBOX.2 0\r\n\r\n")
    + step_time(3, seconds=True)
    + step_drain(0)
    + step_close(0)
    + step_reopen_or_deadline(0)
    + step_bytes(0, CONNECT_PLAIN + b"SUB foo 9\r\n")
    + step_drain(0)
)
# Users with permissions (mode 6): permissions block = response? (1) max u8, expires u16;
# then no_auth_user? (1).
perms = bytes([1, 2]) + struct.pack("<H", 1000)
conn.append(
    setup(mode=6, extra=perms + bytes([1]))
    + step_bytes(0, b'CONNECT {"user":"a","pass":"pa","verbose":false}\r\nSUB foo.> 1\r\nSUB _INBOX.> 2\r\nSUB foo.hidden 3\r\n')
    + step_bytes(1, b'CONNECT {"user":"b","pass":"pb","headers":true}\r\nSUB foo.* 1\r\nPUB foo.x _INBOX.r 1\r\nx\r\nPUB foo.hidden 1\r\ny\r\n')
    + step_bytes(0, b"PUB _INBOX.r 2\r\nok\r\nPUB _INBOX.r 2\r\nno\r\nPUB foo.secret 0\r\n\r\nPUB baz 0\r\n\r\n")
    + step_drain(0)
    + step_drain(1)
    + step_bytes(1, b'CONNECT {"user":"a","pass":"wrong"}\r\n')
    + step_drain(1)
)
# Small limits + pings (mode 1|32|128): max_payload, max_control_line, max_pending u16;
# ping interval u16 ms, ping_max; max_subscriptions.
small = bytes([8, 40]) + struct.pack("<H", 200) + struct.pack("<H", 100) + bytes([1]) + bytes([2])
conn.append(
    setup(mode=1 | 32 | 128, extra=small)
    + step_bytes(0, b'CONNECT {"verbose":false}\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\n')
    + step_bytes(1, b"CONNECT {}\r\n" + b"PUB a 8\r\n12345678\r\n" * 30)
    + step_bytes(1, b"PUB a 9\r\n123456789\r\n")
    + step_time(150)
    + step_time(150)
    + step_time(150)
    + step_drain(0)
    + step_drain(1)
)
# Token auth with an auth timeout (mode 4|8), three connections, queue groups.
conn.append(
    setup(mode=4 | 8, extra=bytes([0]) + struct.pack("<H", 500), conns=3)
    + step_bytes(0, b'CONNECT {"auth_token":"t","verbose":false}\r\nSUB q.a grp 1\r\nSUB q.* grp 2\r\n')
    + step_bytes(1, b'CONNECT {"auth_token":"t","verbose":false}\r\nSUB q.a grp 1\r\n')
    + step_bytes(2, b"PING\r\n")
    + step_bytes(0, b"PUB q.a 1\r\n1\r\nPUB q.a 1\r\n2\r\nPUB q.a 1\r\n3\r\n")
    + step_time(600)
    + step_drain(0)
    + step_drain(1)
    + step_drain(2)
)
# Max connections 1 (mode 64) and a slow-consumer close from the frontend.
conn.append(
    setup(mode=64, extra=bytes([1]))
    + step_bytes(0, b"CONNECT {}\r\nSUB x 1\r\n")
    + step_bytes(1, b"CONNECT {}\r\nPUB x 0\r\n\r\n")
    + step_reopen_or_deadline(0)
    + step_drain(0)
    + step_drain(1)
)
# Accounts (mode 6: users a/b global, c in A, d in B), a reload to token auth, lame duck.
conn.append(
    setup(mode=6, extra=bytes([0, 0]), conns=3)
    + step_bytes(0, b'CONNECT {"user":"c","pass":"pc","verbose":false,"protocol":1}\r\nSUB foo 1\r\nSUB > 2\r\n')
    + step_bytes(1, b'CONNECT {"user":"d","pass":"pd","verbose":false}\r\nSUB foo 1\r\n')
    + step_bytes(2, b'CONNECT {"user":"b","pass":"pb","verbose":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n')
    + step_bytes(0, b"PUB foo 1\r\na\r\n")
    + step_drain(0)
    + step_drain(1)
    + step_drain(2)
    + bytes([0, 8, 1 | 6, 1, 8, 0]) + struct.pack("<H", 100) + bytes([1])  # reload: small limits, users, no_auth_user a
    + step_bytes(1, b"PUB foo 3\r\nabc\r\n")
    + bytes([0, 9])  # lame duck
    + step_drain(0)
    + step_drain(1)
    + step_drain(2)
)
# Large bodies (action 10): shared delivery at >= 8 KiB, split reads.
conn.append(
    setup()
    + step_bytes(0, b'CONNECT {"verbose":false,"headers":true}\r\nSUB foo 1\r\nSUB foo 2\r\n')
    + step_bytes(1, b'CONNECT {"verbose":false,"headers":true}\r\nSUB foo 1\r\n')
    + bytes([1, 10, 0]) + struct.pack("<H", 9000) + bytes([0])
    + bytes([1, 10, 0]) + struct.pack("<H", 20000) + bytes([3])
    + step_drain(0)
    + step_drain(1)
    + bytes([0, 10, 0]) + struct.pack("<H", 40000) + bytes([2])
    + step_drain(0)
    + step_drain(1)
)
write("connection", conn)

# --- subjects: see fuzz/src/subjects.rs. TOKENS indices: 0 foo 1 bar 2 * 3 > 4 '' 5 baz
TOK = {"foo": 0, "bar": 1, "*": 2, ">": 3, "": 4, "baz": 5, "q": 15}


def subj(*tokens):
    n = len(tokens)
    assert 1 <= n <= 5
    return bytes([4 * (n - 1) + 1]) + bytes(TOK[t] for t in tokens)


def raw_subj(b):
    return bytes([0, len(b)]) + b


def insert(s, item, queue=0):
    return bytes([1]) + s + bytes([queue, item])


def match(s):
    return bytes([3]) + s


def remove_existing(i):
    return bytes([2, 1, i])


def pair(a, b):
    return bytes([0]) + a + b


subjects = [
    insert(subj("foo", "bar"), 1)
    + insert(subj("foo", "*"), 2)
    + insert(subj("foo", ">"), 3)
    + insert(subj(">"), 4, queue=3)
    + insert(subj("*", "bar"), 5, queue=4)
    + match(subj("foo", "bar"))
    + match(subj("foo", "*"))
    + remove_existing(0)
    + match(subj("foo", "bar"))
    + match(subj("baz")),
    pair(subj("foo", "*"), subj("foo", ">"))
    + pair(subj("*", ">"), subj(">"))
    + pair(subj("foo", "", "bar"), subj("foo", "bar"))
    + pair(raw_subj(b"a b.c"), raw_subj(b"a.>"))
    + pair(subj("foo", ">", "bar"), subj("*", "*", "*")),
    insert(subj("foo"), 1) * 3
    + insert(subj("foo"), 2, queue=3)
    + insert(subj("foo"), 3, queue=3)
    + insert(raw_subj(b"foo"), 4, queue=5)
    + bytes([2]) + bytes([0]) + subj("foo") + bytes([0, 1])
    + match(subj("foo"))
    + match(raw_subj(b"foo"))
    + match(subj("foo", "")),
]
write("subjects", subjects)

# --- config: "\n#---\n" separates files; names ending in digit d read part d.
configs = [
    b"""# a typical server
port: 4222
host: 127.0.0.1
server_name: "fuzz-1"
max_payload: 1MB
max_pending: 64MB
max_control_line: 4KB
max_connections: 100
max_subscriptions: 1000
ping_interval: "2m"
ping_max: 3
write_deadline: "10s"
debug: true; trace = false, logtime: yes
http: "0.0.0.0:8222"
jetstream { store_dir: "/tmp/js", max_mem: 1G, max_file: 10GiB }
lame_duck_duration: "30s"
""",
    b"""authorization {
  timeout: 1.5
  users = [
    {user: alice, password: "s3cr3t", permissions: {
      publish: { allow: ["foo.>", "_INBOX.>"], deny: "foo.secret" }
      subscribe: [ "bar.*", "baz" ]
      allow_responses: { max: 2, expires: "1m" }
    }}
    {user: bob, password: 'p\\x41ss'}
  ]
}
no_auth_user: bob
""",
    b"""limit = 2048
max_payload: $limit
include fuzz.conf1
authorization { token: $ETOKEN2 }
#---
max_pending = 4096
ping_interval = 30
#---
"s3cret-\\x41"
""",
    b"""{
  "listen": "localhost:4333",
  "pid_file": "/tmp/x.pid",
  server_name: (
multi line
block
)
  unknown_key: [1, 2.5 , true, 2024-01-02T03:04:05Z, "s", 'r', {a: b}]
}
""",
    b"""include fuzz.conf
port: 1
""",
    b"""accounts {
  A: { users: [ {user: a, password: a} ] }
  B: { users: [ {user: b, password: b, permissions: { publish: "x.>" }} ] }
}
authorization { users: [ {user: c, password: c} ] }
include missing.missing
""",
    b"""tls {
  cert_file: "server.pem1"
  key_file: "server.key2"
  ca_file: "ca.pem1"
  verify: true
  timeout: 1.5
  handshake_first: "300ms"
  cipher_suites: [ "TLS_AES_128_GCM_SHA256" ]
}
websocket { port: 8443, tls { cert_file: a.pem1, key_file: a.key2 }, no_tls: false }
#---
-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUY2VydA==
-----END CERTIFICATE-----
#---
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIGtleQ==
-----END EC PRIVATE KEY-----
""",
]
write("config", configs)

# --- websocket: [n splits][window A][window B][step] frames [n x u16 LE offsets]
# (see fuzz/src/websocket.rs; windows and step: 0 = large, else the value)


def ws_frame(b0, payload, key=b"\x11\x22\x33\x44", length_form=None):
    """A client frame (masked with `key`); `length_form` 16/64 forces a longer length field."""
    n = len(payload)
    form = length_form or (7 if n <= 125 else 16 if n <= 0xFFFF else 64)
    if form == 7:
        head = bytes([b0, 0x80 | n])
    elif form == 16:
        head = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def ws_seed(frames, window_a=0, window_b=0, step=0, cuts=()):
    return bytes([len(cuts), window_a, window_b, step]) + frames + b"".join(
        struct.pack("<H", c) for c in cuts
    )


ZERO = b"\x00\x00\x00\x00"
fragmented = (
    ws_frame(0x02, b"PUB a 5\r\nhel")  # binary, not final
    + ws_frame(0x89, b"ping!")  # a ping between fragments
    + ws_frame(0x00, b"lo\r\n")  # continuation, not final
    + ws_frame(0x80, b"PING\r\n")  # continuation, final
    + ws_frame(0x81, b"SUB foo 1\r\n", key=ZERO)  # text
    + ws_frame(0x8A, b"pong")  # an unsolicited pong: ignored
    + ws_frame(0x88, b"\x03\xe8bye")  # close 1000 "bye"
    + ws_frame(0x82, b"after close")
)
websocket = [
    ws_seed(fragmented),
    ws_seed(fragmented, window_a=3, window_b=7, step=5, cuts=(1, 2, 9, 30, 31, 60)),
    ws_seed(ws_frame(0x82, b"x" * 300) + ws_frame(0x82, b"PUB b 0\r\n\r\n", key=ZERO), window_a=100, step=7),
    ws_seed(ws_frame(0x82, b"PING\r\n", length_form=16) + ws_frame(0x82, b"y" * 200, length_form=64), window_b=1),
    ws_seed(ws_frame(0x82, b"z" * 70000), window_a=255, window_b=0, step=0, cuts=(14, 8200)),
    # A 64-bit length far beyond the input: the stream ends inside the payload.
    ws_seed(b"\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00" + ZERO + b"PUB c 1\r\nx\r\n"),
    ws_seed(ws_frame(0x88, b"") + ws_frame(0x88, b"\x03\xea")),
    ws_seed(ws_frame(0x88, b"\x03\xe8\xff\xfe")),
    ws_seed(ws_frame(0x89, b"p" * 125) + ws_frame(0x89, b"p" * 126)),
    ws_seed(ws_frame(0x02, b"a") + ws_frame(0x82, b"b")),
    ws_seed(ws_frame(0x80, b"x") + ws_frame(0x09, b"x")),
    ws_seed(b"\x82\x05hello" + b"\xc2\x80"),
    ws_seed(b"\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00" + ZERO),
    ws_seed(ws_frame(0x83, b"x") + ws_frame(0x8B, b"") + b"\x00\xff\x13\x37garbage"),
]
# The 70 000-byte frame is past run.sh's -max_len of 4096 but is replayed by `cargo test`.
write("websocket", websocket)
