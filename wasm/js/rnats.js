// rnats-wasm: a NATS client for the browser, compiled from Rust.
//
// This module re-exports the wasm-bindgen bindings (rnats_wasm.js) and adds the one thing
// wasm-bindgen cannot declare: Symbol.asyncIterator on subscriptions and status streams,
// so that `for await (const m of sub)` works. Everything else (protocol, queues, timers,
// reconnects) is Rust; next() and unsubscribe() below are Rust methods.
import init, { Subscription, StatusStream } from "./rnats_wasm.js";

export * from "./rnats_wasm.js";
export { init };
export default init;

function asyncIterator() {
  const source = this;
  return {
    async next() {
      const value = await source.next();
      return value === undefined ? { done: true, value: undefined } : { done: false, value };
    },
    // Leaving a `for await` loop early (break, return, throw) ends the subscription.
    async return() {
      source.unsubscribe();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

for (const cls of [Subscription, StatusStream]) {
  Object.defineProperty(cls.prototype, Symbol.asyncIterator, {
    value: asyncIterator,
    writable: true,
    configurable: true,
  });
}

/** nats.ws's StringCodec: UTF-8 text <-> bytes. */
export function StringCodec() {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return { encode: (s) => encoder.encode(s), decode: (a) => decoder.decode(a) };
}

/** nats.ws's JSONCodec: values <-> JSON bytes. */
export function JSONCodec() {
  const sc = StringCodec();
  return { encode: (v) => sc.encode(JSON.stringify(v)), decode: (a) => JSON.parse(sc.decode(a)) };
}
