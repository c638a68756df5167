'use strict';
// Driver for @alicloud/pop-core (RPC V1, RPCClient).
//
// Flavours:
//   node-pop-core       NODE_PATH=ENV/node_modules node sdk/drivers/node_pop_core.js                 (its default GET)
//   node-pop-core-post  NODE_PATH=ENV/node_modules node sdk/drivers/node_pop_core.js --method POST   (form body)
//
// Used as the package README shows: new RPCClient({accessKeyId,
// accessKeySecret, [securityToken], endpoint: 'http://host:port', apiVersion})
// and client.request(action, params, opts). pop-core has no request models:
// its params object is the request. Repeat lists (`A.N`, `A.N.B`) are given
// as arrays, so pop-core's own flattening (flatParams / replaceRepeatList)
// decides their wire names; `A.B` stays a flat key, as pop-core users write
// it (a nested object would go out as "[object Object]"). Nothing is dropped.
// pop-core throws only when the body has a Code outside its success codes,
// whatever the HTTP status.

const path = require('path');
const c = require(path.join(__dirname, '_common.js'));

const PACKAGES = ['@alicloud/pop-core', 'httpx', 'kitx', 'xml2js', 'debug'];

const RPCClient = require('@alicloud/pop-core').RPCClient;

const args = process.argv.slice(2);
const mi = args.indexOf('--method');
const METHOD = mi >= 0 ? String(args[mi + 1] || '').toUpperCase() : null;
if (METHOD !== null && METHOD !== 'POST' && METHOD !== 'GET') {
  process.stderr.write('usage: node_pop_core.js [--method GET|POST]\n');
  process.exit(2);
}

const clients = new Map();

function client(req) {
  const cred = req.credentials || {};
  const key = JSON.stringify([req.endpoint, req.version, cred.access_key_id, cred.secret, cred.session_token]);
  if (!clients.has(key)) {
    const config = {
      accessKeyId: cred.access_key_id,
      accessKeySecret: cred.secret,
      endpoint: `http://${req.endpoint}`,
      apiVersion: req.version || '2014-05-26',
    };
    if (cred.session_token) config.securityToken = cred.session_token;
    clients.set(key, new RPCClient(config));
  }
  return clients.get(key);
}

// Top-level arrays stay arrays (pop-core flattens them); objects become
// their flat dotted keys.
function params(tree) {
  const out = {};
  for (const [k, v] of Object.entries(tree)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      Object.assign(out, c.flatten(v, k));
    } else {
      out[k] = v;
    }
  }
  return out;
}

function redactToken(text) {
  return typeof text === 'string' ? text.replace(/(SecurityToken=)[^&\s]*/g, '$1[redacted]') : text;
}

async function handle(req) {
  const { id, action } = req;
  const { tree } = c.nest(req.params);
  let body;
  try {
    body = await client(req).request(action, params(tree), METHOD ? { method: METHOD } : {});
  } catch (e) {
    return error(id, e);
  }
  return c.outcome(id, 'success', {
    request_id: body && typeof body === 'object' ? body.RequestId || null : null,
    code: body && typeof body === 'object' ? body.Code || null : null,
    message: body && typeof body === 'object' ? body.Message || null : null,
    body,
  });
}

function error(id, e) {
  if (!e || e.code === undefined || !e.data) {
    const out = c.unexpected(id, e); // a network error's message has the URL too
    out.message = redactToken(out.message);
    return out;
  }
  const response = e.entry && e.entry.response ? e.entry.response : null;
  return c.outcome(id, 'error', {
    status: response && response.statusCode !== undefined ? response.statusCode : null,
    code: e.code,
    // pop-core appends the request URL; a session token in it is redacted.
    message: redactToken(e.message),
    request_id: e.data.RequestId || null,
    body: e.data,
    exception: c.describeError(e),
  });
}

c.serve(METHOD === 'POST' ? 'node-pop-core-post' : 'node-pop-core', PACKAGES, handle);
