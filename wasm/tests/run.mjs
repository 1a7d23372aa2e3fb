// Browser tests of the rnats wasm client, in headless Debian Chromium (playwright-core).
//
// For every server (RNATS_WASM_SERVERS, default "nats-server,rnats"): start it with a
// `websocket { host: 127.0.0.1, port: N, no_tls: true }` block, open
// tests/browser/index.html?ws=ws://127.0.0.1:N (the suite in suite.js), restart the server
// when the page asks to (window.__restartServer), print the results; then open the chat
// demo (examples/chat) twice, chat, and take a screenshot of it working.
//
// The wasm/ directory is served by a small static HTTP server in this process, so the
// pages load wasm/pkg exactly as a user would. Build wasm/pkg first (wasm/build.sh).
//
// Environment: RNATS_WASM_SERVERS, NATS_SERVER_BIN (default nats-server),
// RNATS_SERVER_BIN (default target/debug/rnats-server), CHROMIUM (default
// /usr/bin/chromium), RNATS_WASM_OUT (screenshots; default target/wasm-test),
// RNATS_WASM_REQUIRE_ALL=1 (a server that cannot serve WebSocket fails instead of skipping),
// RNATS_WASM_VERBOSE=1 (print the pages' console).
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const wasmDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const root = path.resolve(wasmDir, "..");
const outDir = process.env.RNATS_WASM_OUT || path.join(root, "target", "wasm-test");
const requireAll = process.env.RNATS_WASM_REQUIRE_ALL === "1";
const servers = (process.env.RNATS_WASM_SERVERS || "nats-server,rnats").split(",").map((s) => s.trim()).filter(Boolean);
const binaries = {
  "nats-server": process.env.NATS_SERVER_BIN || "nats-server",
  rnats: process.env.RNATS_SERVER_BIN || path.join(root, "target", "debug", "rnats-server"),
};

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

// --- static files -------------------------------------------------------------------

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".ts": "text/plain; charset=utf-8",
};

function serveStatic() {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = path.join(wasmDir, path.normalize(rel));
    if (!file.startsWith(wasmDir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream", "cache-control": "no-store" });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// --- servers --------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** One server process with a websocket block, restartable on the same ports. */
class NatsProcess {
  constructor(kind, bin, dir, name = kind, extraConf = "") {
    this.kind = kind;
    this.bin = bin;
    this.dir = dir;
    this.name = name;
    this.extraConf = extraConf;
    this.log = "";
  }

  async init() {
    this.tcpPort = await freePort();
    this.wsPort = await freePort();
    this.conf = path.join(this.dir, `${this.name}.conf`);
    writeFileSync(
      this.conf,
      `listen: 127.0.0.1:${this.tcpPort}\nwebsocket {\n  host: 127.0.0.1\n  port: ${this.wsPort}\n  no_tls: true\n}\n${this.extraConf}`,
    );
    this.url = `ws://127.0.0.1:${this.wsPort}`;
  }

  /** Start and wait for the WebSocket port; throws with the server's output if it fails. */
  async start() {
    const child = spawn(this.bin, ["-c", this.conf], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    const append = (d) => (this.log += d);
    child.stdout.on("data", append);
    child.stderr.on("data", append);
    child.once("error", (e) => (this.log += `spawn error: ${e.message}\n`));
    let gone = false;
    this.exited.then(() => (gone = true));
    const end = performance.now() + 10000;
    while (performance.now() < end) {
      if (gone) throw new Error(`${this.kind} exited:\n${this.log.trim()}`);
      if (await canConnect(this.wsPort)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.kind}: nothing listens on WebSocket port ${this.wsPort} after 10 s:\n${this.log.trim()}`);
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  async restart() {
    await this.stop();
    await this.start();
  }
}

// --- browser --------------------------------------------------------------------------

async function launch() {
  const profile = mkdtempSync(path.join(tmpdir(), "rnats-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1100, height: 640 },
  });
  return { context, profile };
}

async function runSuite(context, base, nats, authNats) {
  const page = await context.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`[pageerror] ${e.message}`));
  await page.exposeFunction("__restartServer", async () => {
    await nats.restart();
  });
  const unused = await freePort(); // for "connection refused"
  const query = new URLSearchParams({ server: nats.kind, ws: nats.url, authws: authNats.url, unused });
  await page.goto(`${base}/tests/browser/index.html?${query}`);
  await page.waitForFunction(() => window.__done === true, null, { timeout: 300000 });
  const results = await page.evaluate(() => window.__results);
  await page.screenshot({ path: path.join(outDir, `wasm-tests-${nats.kind}.png`), fullPage: true });
  await page.close();
  let failed = 0;
  for (const r of results) {
    console.log(`  ${r.ok ? "ok  " : "FAIL"} ${r.name} (${r.ms} ms)`);
    if (!r.ok) {
      failed++;
      console.log(r.error.replace(/^/gm, "       "));
    }
  }
  if (failed || process.env.RNATS_WASM_VERBOSE === "1") console.log(consoleLines.map((l) => `    ${l}`).join("\n"));
  return { passed: results.length - failed, failed };
}

/** Two people chat on the demo page; returns the screenshot path. */
async function runDemo(context, base, nats) {
  const room = `demo${Date.now() % 100000}`;
  const open = async (name) => {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/examples/chat/index.html?ws=${encodeURIComponent(nats.url)}&room=${room}&name=${name}`);
    await page.waitForFunction(() => window.__chatReady === true || window.__chatError, null, { timeout: 15000 });
    const error = await page.evaluate(() => window.__chatError);
    if (error) throw new Error(`demo page (${name}): ${error}`);
    return { page, errors };
  };
  const alice = await open("alice");
  const bob = await open("bob");
  const say = async ({ page }, text) => {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  };
  await say(alice, "Hi Bob! This message went through NATS over WebSocket.");
  await say(bob, "Hello Alice, from Rust compiled to WebAssembly!");
  await say(alice, "Subscriptions, headers and request/reply all run in the wasm engine.");
  for (const { page } of [alice, bob]) {
    await page.waitForFunction(() => document.querySelectorAll("#messages li:not(.system)").length === 3, null, { timeout: 10000 });
    await page.waitForFunction(() => document.querySelectorAll("#people li").length === 2, null, { timeout: 10000 });
  }
  // Let the round-trip measurement show.
  await alice.page.waitForFunction(() => !document.getElementById("info").textContent.includes("…"), null, { timeout: 10000 });
  const texts = await alice.page.$$eval("#messages li:not(.system)", (lis) => lis.map((li) => li.textContent));
  if (!texts[1].includes("bob") || !texts[1].includes("rnats-wasm")) throw new Error(`unexpected messages: ${texts}`);
  const shot = path.join(outDir, `wasm-demo-${nats.kind}.png`);
  await alice.page.screenshot({ path: shot });
  for (const p of [alice, bob]) {
    if (p.errors.length) throw new Error(`page errors: ${p.errors.join("; ")}`);
    await p.page.close();
  }
  return shot;
}

/** Must match the credentials in tests/browser/suite.js. */
const AUTH_CONF = "authorization {\n  user: wasm\n  password: s3cret\n}\n";

// --- main -----------------------------------------------------------------------------

async function main() {
  if (!existsSync(path.join(wasmDir, "pkg", "rnats.js"))) throw new Error("wasm/pkg is missing: run wasm/build.sh first");
  mkdirSync(outDir, { recursive: true });
  const dir = mkdtempSync(path.join(tmpdir(), "rnats-wasm-test-"));
  const http = await serveStatic();
  const base = `http://127.0.0.1:${http.address().port}`;
  const { context, profile } = await launch();
  const summary = [];
  let failures = 0;
  try {
    for (const kind of servers) {
      const bin = binaries[kind];
      if (!bin) throw new Error(`unknown server ${kind} (known: ${Object.keys(binaries).join(", ")})`);
      const nats = new NatsProcess(kind, bin, dir);
      await nats.init();
      try {
        await nats.start();
      } catch (e) {
        if (requireAll) throw e;
        console.log(`SKIPPED ${kind}: it does not serve WebSocket with this config (set RNATS_WASM_REQUIRE_ALL=1 to fail instead):\n${e.message.replace(/^/gm, "    ")}`);
        summary.push(`${kind}: SKIPPED (no WebSocket listener)`);
        await nats.stop();
        continue;
      }
      // The same server with a password, for the authentication test.
      const authNats = new NatsProcess(kind, bin, dir, `${kind}-auth`, AUTH_CONF);
      try {
        await authNats.init();
        await authNats.start();
        console.log(`${kind} (${nats.url}):`);
        const s0 = performance.now();
        const { passed, failed } = await runSuite(context, base, nats, authNats);
        const suiteSecs = ((performance.now() - s0) / 1000).toFixed(1);
        failures += failed;
        let demo;
        try {
          demo = await runDemo(context, base, nats);
          console.log(`  ok   chat demo: screenshot ${path.relative(root, demo)}`);
        } catch (e) {
          failures++;
          demo = `FAILED: ${e.message}`;
          console.log(`  FAIL chat demo: ${e.message}`);
        }
        summary.push(`${kind}: ${passed} passed, ${failed} failed (${suiteSecs} s); demo ${demo.startsWith("FAILED") ? demo : "ok"}`);
      } finally {
        await nats.stop();
        await authNats.stop();
      }
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    http.close();
  }
  console.log(`wasm browser tests (${elapsed()}):\n  ${summary.join("\n  ")}`);
  if (failures) {
    console.log(`${failures} failure(s)`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`wasm browser tests: ${e.stack || e}`);
  process.exit(1);
});
