// node:http, loaded through require() rather than `import http from 'node:http'`. An ESM import
// of a builtin reads every one of its exports to build the module namespace, and node:http's
// exports include lazy getters for WebSocket, CloseEvent and MessageEvent: reading them loads
// Node's bundled undici (fetch, WebSocket, web streams), ~2 MiB of RSS that sluice never uses.
// require() leaves those getters unread. This helps only if no module on the start path
// imports node:http as ESM (types alone are fine: `import type http from 'node:http'`).
import { createRequire } from 'node:module';
import type NodeHttp from 'node:http';

const http = createRequire(import.meta.url)('node:http') as typeof NodeHttp;
export default http;
