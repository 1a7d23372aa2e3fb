// A small chat over NATS with the rnats WebAssembly client.
//
//   chat.<room>.msg       messages: JSON { from, text, ts }, with a Chat-Client header
//   chat.<room>.presence  "I am here" heartbeats (names seen in the last 15 s are listed)
//   chat.<room>.who       request/reply: everyone answers with their name on join
//
// Serve the wasm/ directory over HTTP and open examples/chat/index.html?ws=ws://host:port
// (a nats-server or rnats-server with a `websocket { ... }` block).
import init, { connect, headers, JSONCodec } from "../../pkg/rnats.js";

const params = new URLSearchParams(location.search);
const server = params.get("ws") || `ws://${location.hostname || "127.0.0.1"}:8080`;
const room = (params.get("room") || "lobby").replace(/[^A-Za-z0-9_-]/g, "_");
const jc = JSONCodec();
const $ = (id) => document.getElementById(id);

const nameInput = $("name");
nameInput.value = params.get("name") || localStorage.getItem("rnats-chat-name") || `guest-${Math.random().toString(36).slice(2, 6)}`;
$("room").textContent = room;
$("server").textContent = server;

const people = new Map(); // name -> last seen (ms)
let received = 0;
let lastRtt; // ms, measured with flush()

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = `status ${cls}`;
}

function logEvent(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("events").prepend(li);
}

function showInfo(nc, rtt) {
  const info = nc.info;
  const rows = [
    ["server", `${info.server_name.slice(0, 18)} (v${info.version})`],
    ["client id", String(info.client_id)],
    ["max payload", `${info.max_payload} B`],
    ["round trip", rtt === undefined ? "…" : `${rtt.toFixed(1)} ms`],
    ["received", String(received)],
  ];
  $("info").replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      return [dt, dd];
    }),
  );
}

function showPeople() {
  const now = Date.now();
  for (const [name, seen] of people) if (now - seen > 15000) people.delete(name);
  $("people").replaceChildren(
    ...[...people.keys()].sort().map((name) => {
      const li = document.createElement("li");
      li.textContent = name === nameInput.value ? `${name} (you)` : name;
      return li;
    }),
  );
}

function addMessage({ from, text, ts }, client) {
  const li = document.createElement("li");
  if (from === nameInput.value) li.classList.add("mine");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = from;
  const body = document.createElement("span");
  body.textContent = text;
  const when = document.createElement("span");
  when.className = "when";
  when.textContent = new Date(ts).toLocaleTimeString() + (client ? ` · ${client}` : "");
  li.append(who, body, when);
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

function addSystem(text) {
  const li = document.createElement("li");
  li.className = "system";
  li.textContent = text;
  $("messages").append(li);
}

async function main() {
  await init();
  const nc = await connect({
    servers: server,
    name: `chat:${nameInput.value}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
  });
  window.nc = nc; // for the console
  setStatus("connected", "connected");
  logEvent(`connected to ${server}`);
  addSystem(`You joined #${room} as ${nameInput.value}.`);
  showInfo(nc);

  (async () => {
    for await (const s of nc.status()) {
      logEvent(`${s.type} ${s.data}`);
      if (s.type === "disconnect") setStatus("reconnecting…", "connecting");
      if (s.type === "reconnect") setStatus("connected", "connected");
    }
  })();
  nc.closed().then((err) => {
    setStatus("closed", "closed");
    logEvent(`closed${err ? `: ${err.message}` : ""}`);
  });

  nc.subscribe(`chat.${room}.msg`, {
    callback: (_, m) => {
      received++;
      addMessage(jc.decode(m.data), m.headers?.get("Chat-Client"));
      showInfo(nc, lastRtt);
    },
  });
  nc.subscribe(`chat.${room}.presence`, {
    callback: (_, m) => {
      people.set(m.string(), Date.now());
      showPeople();
    },
  });
  nc.subscribe(`chat.${room}.who`, { callback: (_, m) => m.respond(nameInput.value) });
  await nc.flush();

  // Who is already here? Everyone answers; a request takes the first answer, so ask
  // with our own inbox and collect the rest for a moment.
  const inbox = nc.newInbox();
  const answers = nc.subscribe(inbox, {
    callback: (_, m) => {
      people.set(m.string(), Date.now());
      showPeople();
    },
  });
  nc.publish(`chat.${room}.who`, "", { reply: inbox });
  setTimeout(() => answers.unsubscribe(), 2000);

  const heartbeat = () => nc.isClosed() || nc.publish(`chat.${room}.presence`, nameInput.value);
  heartbeat();
  setInterval(heartbeat, 5000);

  const measure = async () => {
    const t0 = performance.now();
    await nc.flush();
    lastRtt = performance.now() - t0;
    showInfo(nc, lastRtt);
    showPeople();
  };
  measure();
  setInterval(() => nc.isClosed() || measure().catch(() => {}), 5000);

  const hdrs = headers();
  hdrs.set("Chat-Client", "rnats-wasm");
  $("text").disabled = false;
  $("button").disabled = false;
  $("text").focus();
  $("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    localStorage.setItem("rnats-chat-name", nameInput.value);
    nc.publish(`chat.${room}.msg`, jc.encode({ from: nameInput.value, text, ts: Date.now() }), { headers: hdrs });
    $("text").value = "";
  });
  window.__chatReady = true;
}

main().catch((e) => {
  setStatus("error", "closed");
  addSystem(`Could not connect to ${server}: ${e.message}`);
  window.__chatError = String(e);
});
