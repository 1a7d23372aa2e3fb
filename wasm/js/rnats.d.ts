// Types of rnats.js: the wasm-bindgen declarations plus async iteration and codecs.
import init, { Msg, Status } from "./rnats_wasm.js";

export * from "./rnats_wasm.js";
export { init };
export default init;

declare module "./rnats_wasm.js" {
  interface Subscription extends AsyncIterable<Msg> {
    [Symbol.asyncIterator](): AsyncIterator<Msg>;
  }
  interface StatusStream extends AsyncIterable<Status> {
    [Symbol.asyncIterator](): AsyncIterator<Status>;
  }
}

export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}
export function StringCodec(): Codec<string>;
export function JSONCodec<T = unknown>(): Codec<T>;
