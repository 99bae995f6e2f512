/**
 * comlink's Node adapter, imported from its ESM build (the UMD default
 * import is not callable under `nodenext`); comlink ships no declaration
 * for the .mjs path.
 */
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';

  /** A Worker or a MessagePort (any listener shape: this is the boundary with Node's overloaded `on`). */
  export interface NodeEndpoint {
    postMessage(message: unknown, transfer?: readonly any[]): void;
    on(type: 'message', listener: (...args: any[]) => void): unknown;
    off(type: 'message', listener: (...args: any[]) => void): unknown;
    start?: () => void;
  }

  export default function nodeEndpoint(endpoint: NodeEndpoint): Endpoint;
}
