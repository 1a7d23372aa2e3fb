// The rnats-wasm client against a real server over WebSocket, in a real browser.
// Driven by wasm/tests/run.mjs, which serves this page with ?ws=<server url>&server=<name>,
// provides window.__restartServer(), and reads window.__results when window.__done is set.
import init, { connect, headers, StringCodec, JSONCodec } from "../../pkg/rnats.js";

const params = new URLSearchParams(location.search);
const url = params.get("ws") || "ws://127.0.0.1:8080";
const only = params.get("only");
const sc = StringCodec();
const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const opts = (extra = {}) => ({ servers: url, timeout: 5000, ...extra });
// Subjects unique to this run, so reruns against a long-lived server do not mix.
const run = Math.random().toString(36).slice(2, 8);
const subj = (s) => `t.${run}.${s}`;

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
function eq(actual, expected, message = "") {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`);
}
async function rejects(promise, code) {
  try {
    await promise;
  } catch (e) {
    eq(e.code, code, `error code (${e.message}):`);
    return e;
  }
  throw new Error(`expected a rejection with code ${code}`);
}
function throws(fn, code) {
  try {
    fn();
  } catch (e) {
    eq(e.code, code, `error code (${e.message}):`);
    return e;
  }
  throw new Error(`expected an exception with code ${code}`);
}
async function waitFor(cond, ms = 10000, what = "condition") {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("connect, server info, close, closed()", async () => {
  const nc = await connect(opts({ name: "wasm-test" }));
  assert(nc.info.server_id.length > 0, "server_id");
  eq(nc.info.headers, true, "headers supported:");
  assert(nc.info.max_payload >= 1024 * 1024, "max_payload");
  eq(nc.getServer(), url);
  const closed = nc.closed();
  await nc.close();
  eq(await closed, undefined, "closed() value:");
  assert(nc.isClosed(), "isClosed");
  await rejects(nc.flush(), "CONNECTION_CLOSED");
  throws(() => nc.publish(subj("x"), "late"), "CONNECTION_CLOSED");
  await nc.close(); // closing twice is fine
});

test("connect to a port nobody listens on is refused", async () => {
  // A port the runner found free (Chromium refuses to dial "unsafe" ports such as 1).
  const port = params.get("unused") || "9";
  await rejects(connect({ servers: `ws://127.0.0.1:${port}`, timeout: 3000 }), "CONNECTION_REFUSED");
});

test("user and password; a wrong password is an authorization violation", async () => {
  const authUrl = params.get("authws");
  assert(authUrl, "the runner passes ?authws=");
  const e = await rejects(
    connect({ servers: authUrl, user: "wasm", pass: "wrong", timeout: 3000 }),
    "AUTHORIZATION_VIOLATION",
  );
  assert(/Authorization Violation/.test(e.message), e.message);
  await rejects(connect({ servers: authUrl, timeout: 3000 }), "AUTHORIZATION_VIOLATION");
  const nc = await connect({ servers: authUrl, user: "wasm", pass: "s3cret", timeout: 3000 });
  const sub = nc.subscribe(subj("auth"), { max: 1 });
  nc.publish(subj("auth"), "in");
  for await (const m of sub) eq(m.string(), "in");
  await nc.close();
});

test("publish arguments are checked", async () => {
  const nc = await connect(opts());
  throws(() => nc.publish("", "x"), "BAD_SUBJECT");
  throws(() => nc.publish("a b", "x"), "BAD_SUBJECT");
  throws(() => nc.subscribe("a..b"), "BAD_SUBJECT");
  throws(() => nc.publish(subj("x"), 42), "API_ERROR");
  throws(() => nc.publish(subj("x"), new Uint8Array(nc.info.max_payload + 1)), "MAX_PAYLOAD_EXCEEDED");
  await nc.close();
});

test("pub/sub: async iterator with max, callback, wildcards", async () => {
  const nc = await connect(opts());
  const it = nc.subscribe(subj("iter.*"), { max: 3 });
  const got = [];
  const done = (async () => {
    for await (const m of it) got.push([m.subject, m.string(), m.reply]);
  })();
  const viaCallback = [];
  const cb = nc.subscribe(subj(">"), { callback: (err, m) => viaCallback.push(sc.decode(m.data)) });
  await nc.flush();
  for (const s of ["a", "b", "c", "d"]) nc.publish(subj(`iter.${s}`), sc.encode(s));
  await done; // the iterator ends after max messages
  eq(got, [[subj("iter.a"), "a", ""], [subj("iter.b"), "b", ""], [subj("iter.c"), "c", ""]]);
  assert(it.isClosed(), "iterator subscription closed");
  await nc.flush();
  eq(viaCallback, ["a", "b", "c", "d"]);
  eq(cb.getReceived(), 4);
  cb.unsubscribe();
  await cb.closed;
  nc.publish(subj("iter.e"), "e");
  await nc.flush();
  eq(viaCallback.length, 4, "nothing after unsubscribe:");
  await nc.close();
});

test("1,000 ordered messages between two connections, queue groups share", async () => {
  const a = await connect(opts());
  const b = await connect(opts());
  const seen = [];
  a.subscribe(subj("seq"), { callback: (_, m) => seen.push(Number(m.string())) });
  let q1 = 0;
  let q2 = 0;
  a.subscribe(subj("work"), { queue: "workers", callback: () => q1++ });
  b.subscribe(subj("work"), { queue: "workers", callback: () => q2++ });
  await a.flush();
  await b.flush();
  for (let i = 0; i < 1000; i++) b.publish(subj("seq"), String(i));
  for (let i = 0; i < 100; i++) b.publish(subj("work"), "job");
  await b.flush();
  await waitFor(() => seen.length === 1000 && q1 + q2 === 100, 10000, "deliveries");
  eq(seen, [...Array(1000).keys()], "order:");
  await a.flush();
  eq(q1 + q2, 100, "each job once:");
  await a.close();
  await b.close();
});

test("a 900 KiB message round trip", async () => {
  const nc = await connect(opts());
  const sub = nc.subscribe(subj("big"), { max: 1 });
  await nc.flush();
  const big = new Uint8Array(900 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  nc.publish(subj("big"), big);
  const { value: m } = await sub[Symbol.asyncIterator]().next();
  eq(m.data.length, big.length, "size:");
  assert(m.data.every((v, i) => v === big[i]), "content");
  await nc.close();
});

test("request/reply, concurrent requests, 503 no responders, timeout", async () => {
  const svc = await connect(opts());
  const cli = await connect(opts());
  svc.subscribe(subj("echo"), { callback: (_, m) => m.respond(`echo:${m.string()}`) });
  svc.subscribe(subj("silent"));
  await svc.flush();
  const r = await cli.request(subj("echo"), "hi", { timeout: 2000 });
  eq(r.string(), "echo:hi");
  const many = await Promise.all([...Array(50).keys()].map((i) => cli.request(subj("echo"), String(i))));
  eq(many.map((m) => m.string()), [...Array(50).keys()].map((i) => `echo:${i}`));
  const e = await rejects(cli.request(subj("nobody.home"), "x", { timeout: 2000 }), "503");
  assert(e instanceof Error, "an Error");
  const t0 = performance.now();
  await rejects(cli.request(subj("silent"), "x", { timeout: 200 }), "TIMEOUT");
  const waited = performance.now() - t0;
  assert(waited >= 190 && waited < 2000, `timeout after ${waited} ms`);
  // JSON codec interop.
  const jc = JSONCodec();
  svc.subscribe(subj("sum"), { callback: (_, m) => m.respond(jc.encode(m.json().reduce((a, b) => a + b, 0))) });
  await svc.flush();
  eq(jc.decode((await cli.request(subj("sum"), jc.encode([1, 2, 3]))).data), 6);
  await svc.close();
  await cli.close();
});

test("headers on publish, request and respond", async () => {
  const nc = await connect(opts());
  const sub = nc.subscribe(subj("h"), { max: 2 });
  await nc.flush();
  const h = headers();
  h.append("X-Id", "1");
  h.append("X-Id", "2");
  h.set("Other", "v");
  nc.publish(subj("h"), "with headers", { headers: h });
  nc.publish(subj("h"), "object headers", { headers: { A: "b", Multi: ["1", "2"] } });
  const msgs = [];
  for await (const m of sub) msgs.push(m);
  eq(msgs[0].string(), "with headers");
  eq(msgs[0].headers.values("X-Id"), ["1", "2"]);
  eq(msgs[0].headers.get("Other"), "v");
  eq(msgs[0].headers.keys(), ["X-Id", "Other"]);
  eq(msgs[1].headers.get("A"), "b");
  eq(msgs[1].headers.values("Multi"), ["1", "2"]);
  nc.subscribe(subj("hsvc"), {
    callback: (_, m) => {
      const rh = headers();
      rh.set("Echo", m.headers.get("Q"));
      m.respond("ok", { headers: rh });
    },
  });
  await nc.flush();
  const q = headers();
  q.set("Q", "42");
  const r = await nc.request(subj("hsvc"), "", { headers: q });
  eq(r.headers.get("Echo"), "42");
  eq(r.string(), "ok");
  const status = headers(503, "No Responders");
  eq([status.code, status.description, status.hasError], [503, "No Responders", true]);
  await nc.close();
});

test("flushes complete in order", async () => {
  const nc = await connect(opts());
  const order = [];
  await Promise.all([1, 2, 3, 4].map((i) => nc.flush().then(() => order.push(i))));
  eq(order, [1, 2, 3, 4]);
  await nc.close();
});

test("drain delivers what is in flight, then closes", async () => {
  const a = await connect(opts());
  const b = await connect(opts());
  const got = [];
  const sub = a.subscribe(subj("drain"), { callback: (_, m) => got.push(m.string()) });
  const it = a.subscribe(subj("drain.it"));
  await a.flush();
  for (let i = 0; i < 200; i++) b.publish(subj("drain"), String(i));
  b.publish(subj("drain.it"), "one");
  await b.flush();
  const closed = a.closed();
  await a.drain();
  eq(got.length, 200, "all in-flight messages:");
  eq(await closed, undefined);
  assert(a.isClosed() && sub.isClosed() && it.isClosed(), "all closed");
  const rest = [];
  for await (const m of it) rest.push(m.string());
  eq(rest, ["one"], "the iterator still yields what arrived:");
  throws(() => a.publish(subj("drain"), "x"), "CONNECTION_CLOSED");
  // Draining one subscription.
  const c = b.subscribe(subj("drain.one"));
  await b.flush();
  b.publish(subj("drain.one"), "last");
  await c.drain();
  const left = [];
  for await (const m of c) left.push(m.string());
  eq(left, ["last"]);
  await b.close();
});

test("reconnects after a server restart and resubscribes", async () => {
  const nc = await connect(opts({ reconnectTimeWait: 250, maxReconnectAttempts: -1, name: "survivor" }));
  const statuses = [];
  (async () => {
    for await (const s of nc.status()) statuses.push(s.type);
  })();
  const got = [];
  nc.subscribe(subj("re"), { callback: (_, m) => got.push(m.string()) });
  const limited = nc.subscribe(subj("re.max"), { max: 3 });
  await nc.flush();
  nc.publish(subj("re"), "before");
  nc.publish(subj("re.max"), "m1");
  await nc.flush();
  await window.__restartServer();
  await waitFor(() => statuses.includes("disconnect"), 10000, "disconnect status");
  nc.publish(subj("re"), "while disconnected"); // buffered until the reconnect
  const flushed = nc.flush(); // completes after the reconnect
  await waitFor(() => statuses.includes("reconnect"), 15000, "reconnect status");
  await flushed;
  const other = await connect(opts());
  other.publish(subj("re"), "after");
  for (const m of ["m2", "m3", "m4"]) other.publish(subj("re.max"), m);
  await other.flush();
  await waitFor(() => got.includes("after"), 5000, "message after restart");
  eq(got, ["before", "while disconnected", "after"]);
  const maxed = [];
  for await (const m of limited) maxed.push(m.string());
  eq(maxed, ["m1", "m2", "m3"], "max counts across the restart:");
  await other.close();
  await nc.close();
});

async function main() {
  document.getElementById("target").textContent = `server: ${params.get("server") || "?"} at ${url}`;
  const list = document.getElementById("results");
  const results = [];
  try {
    await init();
  } catch (e) {
    results.push({ name: "init()", ok: false, error: String(e), ms: 0 });
    window.__results = results;
    window.__done = true;
    return;
  }
  for (const { name, fn } of tests) {
    if (only && !name.includes(only)) continue;
    const t0 = performance.now();
    let error = null;
    try {
      await Promise.race([
        fn(),
        sleep(30000).then(() => {
          throw new Error("test timed out after 30 s");
        }),
      ]);
    } catch (e) {
      error = `${e && e.stack ? e.stack : e}`;
    }
    const ms = Math.round(performance.now() - t0);
    results.push({ name, ok: !error, error, ms });
    const li = document.createElement("li");
    li.className = error ? "fail" : "pass";
    li.textContent = `${error ? "FAIL" : "ok"} ${name} (${ms} ms)`;
    if (error) {
      const pre = document.createElement("pre");
      pre.textContent = error;
      li.append(pre);
    }
    list.append(li);
  }
  window.__results = results;
  window.__done = true;
}

main();
