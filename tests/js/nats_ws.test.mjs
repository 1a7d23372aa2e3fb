// The official nats.ws client against a server's WebSocket listener, run with `node --test`
// by tests/tests/nats_ws.rs once per server (rnats and the reference nats-server).
//
// Environment: NATS_WS_URL (ws://127.0.0.1:PORT, or wss://localhost:PORT with
// NODE_EXTRA_CA_CERTS naming the test CA), NATS_TCP_PORT (the same server's client port,
// for a TCP publisher), NATS_SERVER_LABEL (for messages).
//
// Node 20 has no global WebSocket without --experimental-websocket: the `ws` package
// provides it, as it would for any Node application using nats.ws.

import { WebSocket } from "ws";
globalThis.WebSocket = WebSocket;

import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { connect, StringCodec, headers, ErrorCode, createInbox } from "nats.ws";

const url = process.env.NATS_WS_URL;
const tcpPort = Number(process.env.NATS_TCP_PORT);
const label = process.env.NATS_SERVER_LABEL ?? "server";
if (!url || !tcpPort) {
  throw new Error("set NATS_WS_URL and NATS_TCP_PORT");
}
const sc = StringCodec();
const open = [];

async function client(name) {
  const nc = await connect({ servers: url, name: `${label}-${name}`, timeout: 5000 });
  open.push(nc);
  return nc;
}

/** Resolve with the first `n` messages of `sub`, or reject after `ms`. */
function collect(sub, n, ms = 10000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(
      () => reject(new Error(`only ${got.length} of ${n} messages within ${ms} ms`)),
      ms,
    );
    (async () => {
      for await (const m of sub) {
        got.push(m);
        if (got.length === n) {
          clearTimeout(timer);
          resolve(got);
          return;
        }
      }
    })().catch(reject);
  });
}

after(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => {})));
});

test("pub/sub round trip", async () => {
  const nc = await client("pubsub");
  assert.equal(nc.info.headers, true, "INFO.headers");
  const sub = nc.subscribe("js.hello");
  const got = collect(sub, 1);
  nc.publish("js.hello", sc.encode("hello from nats.ws"));
  const [m] = await got;
  assert.equal(m.subject, "js.hello");
  assert.equal(sc.decode(m.data), "hello from nats.ws");
});

test("1,000 messages arrive in order", async () => {
  const pub = await client("order-pub");
  const subc = await client("order-sub");
  const sub = subc.subscribe("js.order");
  await subc.flush();
  const got = collect(sub, 1000);
  for (let i = 0; i < 1000; i++) {
    pub.publish("js.order", sc.encode(String(i)));
  }
  await pub.flush();
  const msgs = await got;
  assert.deepEqual(
    msgs.map((m) => Number(sc.decode(m.data))),
    Array.from({ length: 1000 }, (_, i) => i),
  );
});

test("a 900 KiB message", async () => {
  const nc = await client("big");
  const size = 900 * 1024;
  assert.ok(nc.info.max_payload >= size, `max_payload ${nc.info.max_payload}`);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
  const sub = nc.subscribe("js.big");
  const got = collect(sub, 1);
  nc.publish("js.big", data);
  const [m] = await got;
  assert.equal(m.data.length, size);
  assert.ok(Buffer.from(m.data).equals(Buffer.from(data)), "payload intact");
});

test("request/reply", async () => {
  const responder = await client("responder");
  const requester = await client("requester");
  const sub = responder.subscribe("js.echo");
  (async () => {
    for await (const m of sub) m.respond(sc.encode(`echo: ${sc.decode(m.data)}`));
  })();
  await responder.flush();
  const reply = await requester.request("js.echo", sc.encode("ping"), { timeout: 5000 });
  assert.equal(sc.decode(reply.data), "echo: ping");
});

test("headers", async () => {
  const nc = await client("headers");
  const sub = nc.subscribe("js.headers");
  const got = collect(sub, 1);
  const h = headers();
  h.set("X-Trace", "abc123");
  h.append("X-Multi", "1");
  h.append("X-Multi", "2");
  nc.publish("js.headers", sc.encode("with headers"), { headers: h });
  const [m] = await got;
  assert.ok(m.headers, "message has headers");
  assert.equal(m.headers.get("X-Trace"), "abc123");
  assert.deepEqual(m.headers.values("X-Multi"), ["1", "2"]);
  assert.equal(sc.decode(m.data), "with headers");
});

test("no responders", async () => {
  const nc = await client("noresponders");
  await assert.rejects(
    nc.request("js.nobody.home", sc.encode("?"), { timeout: 5000 }),
    (err) => {
      assert.equal(err.code, ErrorCode.NoResponders);
      assert.equal(err.code, "503");
      return true;
    },
  );
});

test("drain delivers what was published, then closes", async () => {
  const pub = await client("drain-pub");
  const nc = await connect({ servers: url, name: `${label}-drain`, timeout: 5000 });
  const received = [];
  const sub = nc.subscribe("js.drain", {
    callback: (_err, m) => received.push(sc.decode(m.data)),
  });
  await nc.flush();
  for (let i = 0; i < 100; i++) pub.publish("js.drain", sc.encode(String(i)));
  await pub.flush();
  await nc.drain();
  await nc.closed();
  assert.equal(nc.isClosed(), true);
  assert.equal(sub.isClosed(), true);
  assert.equal(received.length, 100);
  assert.deepEqual(received, Array.from({ length: 100 }, (_, i) => String(i)));
});

test("a TCP publisher reaches a WebSocket subscriber", async () => {
  const nc = await client("tcp-bridge");
  const sub = nc.subscribe("js.from.tcp");
  await nc.flush();
  const got = collect(sub, 2);
  // A plain NATS client over TCP: CONNECT, two publishes (one with headers), PING/PONG.
  await new Promise((resolve, reject) => {
    const sock = net.connect(tcpPort, "127.0.0.1");
    let seen = "";
    sock.on("data", (d) => {
      seen += d.toString();
      if (seen.includes("PONG\r\n")) {
        sock.end();
        resolve();
      }
    });
    sock.on("error", reject);
    sock.write(
      'CONNECT {"verbose":false,"headers":true}\r\n' +
        "PUB js.from.tcp 9\r\nover tcp!\r\n" +
        "HPUB js.from.tcp 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n" +
        "PING\r\n",
    );
  });
  const [plain, withHeaders] = await got;
  assert.equal(sc.decode(plain.data), "over tcp!");
  assert.equal(sc.decode(withHeaders.data), "hi");
  assert.equal(withHeaders.headers.get("A"), "b");
});

test("many subscribers and a queue group", async () => {
  const nc = await client("fanout");
  const inbox = createInbox();
  const subs = [nc.subscribe(`${inbox}.*`), nc.subscribe(`${inbox}.>`)];
  const counts = [0, 0, 0];
  counts.forEach((_, i) =>
    nc.subscribe(`${inbox}.q`, { queue: "workers", callback: () => counts[i]++ }),
  );
  const plain = Promise.all(subs.map((s) => collect(s, 30)));
  for (let i = 0; i < 30; i++) nc.publish(`${inbox}.q`, sc.encode(String(i)));
  // The PONG comes after every message the server sent this connection before it.
  await nc.flush();
  const [star, gt] = await plain;
  assert.equal(star.length, 30);
  assert.equal(gt.length, 30);
  assert.equal(counts.reduce((a, b) => a + b, 0), 30, `one queue member per message: ${counts}`);
});
