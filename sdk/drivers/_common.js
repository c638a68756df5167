'use strict';
// Shared plumbing of the Node SDK drivers (see sdk/README.md).
//
// Why one module: every driver speaks the same JSON-lines protocol, nests the
// case's wire-named parameters the same way and describes errors the same
// way, so a difference between two flavours' answers is the SDKs' doing.
// Node's standard library only; the SDK comes from NODE_PATH.

const path = require('path');
const readline = require('readline');

const INDEX = /^[0-9]+$/;

// Versions as the SDK itself resolves them: the first name is the SDK, the
// others are looked up from its directory (npm may nest a dependency's own
// version under the SDK rather than hoist it).
function packageVersions(names) {
  const out = {};
  let sdkDir = null;
  for (const name of names) {
    try {
      const opts = sdkDir ? { paths: [sdkDir] } : undefined;
      const file = require.resolve(`${name}/package.json`, opts);
      if (!sdkDir) sdkDir = path.dirname(file);
      out[name] = require(file).version;
    } catch (e) {
      out[name] = null;
    }
  }
  return out;
}

// What this process loaded of the package `name`: the copy the environment
// installed (NODE_PATH/<name>), and every copy whose files are in
// require.cache (an SDK may load its own nested copy, or another package).
function probe(name) {
  const fs = require('fs');
  const version = (dir) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version || null;
    } catch (e) {
      return null;
    }
  };
  let installed = null;
  for (const root of (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)) {
    const dir = path.join(root, name);
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      installed = { version: version(dir), path: fs.realpathSync(dir) };
      break;
    }
  }
  const marker = `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}${path.sep}`;
  const loaded = new Map();
  for (const file of Object.keys(require.cache)) {
    if (file.endsWith('.json')) continue; // metadata read (packageVersions), not code loaded
    const real = fs.realpathSync(file);
    const i = real.lastIndexOf(marker);
    if (i < 0) continue;
    const dir = real.slice(0, i + marker.length - 1);
    if (!loaded.has(dir)) loaded.set(dir, version(dir));
  }
  const copies = [...loaded.entries()].sort().map(([p, v]) => ({ version: v, path: p }));
  return { package: name, installed, loaded: copies };
}

// A case value (a string) as the contract's type; a value that does not
// convert stays the raw string, so the SDK decides what to do with it.
function convert(value, kind) {
  if (typeof value !== 'string') return value;
  if (kind === 'integer') {
    return /^[+-]?[0-9]+$/.test(value.trim()) ? Number(value) : value;
  }
  if (kind === 'boolean') {
    const low = value.trim().toLowerCase();
    return low === 'true' ? true : low === 'false' ? false : value;
  }
  if (kind === 'array') {
    try {
      const parsed = JSON.parse(value);
      return Array.isArray(parsed) ? parsed : [value];
    } catch (e) {
      return [value];
    }
  }
  return value;
}

// Internal list marker: {[LIST]: true, items: Map(N -> value)}.
const LIST = Symbol('list');

function insert(tree, parts, value) {
  const [head, ...rest] = parts;
  if (rest.length === 0) {
    tree[head] = value;
    return;
  }
  if (INDEX.test(rest[0])) {
    if (!tree[head]) tree[head] = { [LIST]: true, items: new Map() };
    const list = tree[head];
    if (!list[LIST]) throw new Error(`conflicting parameter names at ${head}`);
    const n = Number(rest[0]);
    if (rest.length === 1) {
      list.items.set(n, value);
    } else {
      if (!list.items.has(n)) list.items.set(n, {});
      const child = list.items.get(n);
      if (typeof child !== 'object' || child === null) throw new Error(`conflicting parameter names at ${head}`);
      insert(child, rest.slice(1), value);
    }
    return;
  }
  if (!(head in tree)) tree[head] = {};
  const child = tree[head];
  if (typeof child !== 'object' || child === null || child[LIST]) {
    throw new Error(`conflicting parameter names at ${head}`);
  }
  insert(child, rest, value);
}

function listify(node) {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
  if (node[LIST]) {
    return [...node.items.keys()].sort((a, b) => a - b).map((k) => listify(node.items.get(k)));
  }
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = listify(v);
  return out;
}

function canonicalName(raw, parts) {
  const out = [];
  let node = raw;
  for (let i = 0; i < parts.length; i++) {
    out.push(parts[i]);
    node = node && typeof node === 'object' && !node[LIST] ? node[parts[i]] : undefined;
    if (i + 1 < parts.length && INDEX.test(parts[i + 1]) && node && node[LIST]) {
      const keys = [...node.items.keys()].sort((a, b) => a - b);
      const n = Number(parts[i + 1]);
      out.push(String(keys.indexOf(n) + 1));
      node = node.items.get(n);
      i += 1;
    }
  }
  return out.join('.');
}

// Case params -> {tree, canonical}: `A.B` nests into objects, `A.N` / `A.N.B`
// into arrays ordered by N (whatever N starts at); canonical maps each wire
// name to the name the tree flattens back to (arrays numbered from 1).
function nest(params) {
  const raw = {};
  for (const p of params) insert(raw, String(p.name).split('.'), convert(p.value, p.type || 'string'));
  const canonical = {};
  for (const p of params) canonical[p.name] = canonicalName(raw, String(p.name).split('.'));
  return { tree: listify(raw), canonical };
}

// Nested objects/arrays -> {wire name: value}, arrays numbered from 1;
// null/undefined left out.
function flatten(obj, prefix = '', out = {}) {
  if (Array.isArray(obj)) {
    obj.forEach((v, i) => flatten(v, `${prefix}.${i + 1}`, out));
  } else if (obj !== null && typeof obj === 'object' && !Buffer.isBuffer(obj)) {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (obj !== null && obj !== undefined) {
    out[prefix] = obj;
  }
  return out;
}

function dropped(canonical, keptNames) {
  const kept = new Set(keptNames);
  return Object.keys(canonical).filter((name) => !kept.has(canonical[name])).sort();
}

function describeError(e) {
  if (e === null || typeof e !== 'object') {
    return { class: typeof e, bases: [], retry_after: null, attributes: [] };
  }
  const bases = [];
  let proto = Object.getPrototypeOf(Object.getPrototypeOf(e));
  while (proto && proto !== Object.prototype) {
    bases.push(proto.constructor && proto.constructor.name ? proto.constructor.name : '?');
    proto = Object.getPrototypeOf(proto);
  }
  const retry = e.retryAfter !== undefined ? e.retryAfter : e.retry_after;
  return {
    class: e.constructor && e.constructor.name ? e.constructor.name : 'Object',
    bases,
    retry_after: retry === undefined ? null : retry,
    attributes: Object.keys(e).filter((k) => !k.startsWith('_')).sort(),
  };
}

function outcome(id, kind, fields = {}) {
  return {
    id,
    outcome: kind,
    status: null,
    code: null,
    message: null,
    request_id: null,
    body: null,
    exception: null,
    dropped: [],
    ...fields,
  };
}

function unsupported(id, reason, droppedNames = []) {
  return outcome(id, 'unsupported', { reason, dropped: droppedNames });
}

// A failure the driver did not expect (or a driver bug): an error with its
// class, never a crash.
function unexpected(id, e, droppedNames = []) {
  process.stderr.write(scrub(`${e && e.stack ? e.stack : String(e)}\n`));
  return outcome(id, 'error', {
    message: e && e.message !== undefined ? String(e.message) : String(e),
    exception: describeError(e),
    dropped: droppedNames,
  });
}

// The secret and session token of the call being served: scrubbed from every
// output line and log (an SDK's message may carry the request URL, a
// SecurityToken in it).
let secrets = [];
const MIN_SECRET_LEN = 6;

function secretForms(req) {
  const cred = req && typeof req === 'object' ? req.credentials : null;
  const forms = new Set();
  for (const key of ['secret', 'session_token']) {
    const v = cred && typeof cred === 'object' ? cred[key] : null;
    if (typeof v === 'string' && v.length >= MIN_SECRET_LEN) {
      const enc = encodeURIComponent(v);
      [v, enc, enc.replace(/%20/g, '+'), encodeURIComponent(enc)].forEach((f) => forms.add(f));
    }
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

function scrub(obj) {
  if (typeof obj === 'string') {
    let out = obj;
    for (const form of secrets) out = out.split(form).join('[redacted]');
    return out;
  }
  if (Array.isArray(obj)) return obj.map(scrub);
  if (obj !== null && typeof obj === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(obj)) out[k] = scrub(v);
    return out;
  }
  return obj;
}

function jsonBody(text) {
  if (Buffer.isBuffer(text)) text = text.toString('utf8');
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch (e) {
    return text;
  }
}

function lcfirst(s) {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function check(req) {
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new Error('a request must be a JSON object');
  for (const key of ['action', 'endpoint', 'credentials']) {
    if (!(key in req)) throw new Error(`missing field '${key}'`);
  }
  if (req.params === undefined) req.params = [];
  if (!Array.isArray(req.params)) throw new Error('params must be a list');
  for (const p of req.params) {
    if (p === null || typeof p !== 'object' || !('name' in p)) throw new Error('each param needs a name');
  }
}

// stdout carries only protocol lines: console.log from an SDK goes to stderr.
const out = process.stdout;
console.log = (...args) => process.stderr.write(`${args.map(String).join(' ')}\n`);
console.info = console.log;
console.warn = console.log;

function emit(obj) {
  out.write(`${JSON.stringify(obj)}\n`);
}

// The JSON-lines loop: a hello line, then one output line per input line, in
// input order (one call at a time). handle(req) returns (a promise of) the
// output object; nothing it throws ends the process.
function serve(flavour, packages, handle) {
  process.on('uncaughtException', (e) => process.stderr.write(`uncaught: ${e && e.stack}\n`));
  process.on('unhandledRejection', (e) => process.stderr.write(`unhandled: ${e && e.stack}\n`));
  emit({ hello: { flavour, packages: packageVersions(packages) } });
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    if (!line.trim()) return;
    chain = chain.then(() => one(line, handle)).then(emit, (e) => emit(unexpected(null, e)));
  });
}

async function one(line, handle) {
  let req;
  let id = null;
  try {
    req = JSON.parse(line);
    if (req && typeof req === 'object' && typeof req.probe === 'string') return { probe: probe(req.probe) };
    id = req && typeof req === 'object' && 'id' in req ? req.id : null;
    check(req);
  } catch (e) {
    return unsupported(id, `bad input: ${e.message}`);
  }
  secrets = secretForms(req);
  try {
    return scrub(await handle(req));
  } catch (e) {
    return scrub(unexpected(id, e));
  }
}

module.exports = {
  convert, nest, flatten, probe, dropped, describeError, outcome, unsupported, unexpected, jsonBody, lcfirst, serve,
};
