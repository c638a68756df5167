'use strict';
// Driver for @alicloud/ecs20140526 (Node, tea / darabonba).
//
// Flavour:
//   node-tea-ecs  NODE_PATH=ENV/node_modules node sdk/drivers/node_tea_ecs.js   (ACS3)
//
// Used as the package README shows: new Ecs.default(new Config({...})), a
// request model `new Ecs.<Action>Request({...})` and the lowerCamel method.
// The Config is the one of the core package the SDK itself depends on,
// resolved from the SDK's own directory (7.x runs on @alicloud/openapi-core,
// whose $OpenApiUtil.Config it is; older releases on @alicloud/openapi-client),
// so the driver loads no core the SDK does not send through.
// The model's static names() (property -> wire name) and types() (nested
// models, {type:'array', itemType}) turn the case's wire names into the
// model's properties; a wire name absent from names() is dropped. Dropped
// names are found by round-tripping the model through toMap().

const path = require('path');
const c = require(path.join(__dirname, '_common.js'));

const PACKAGES = [
  '@alicloud/ecs20140526', '@alicloud/openapi-client', '@alicloud/openapi-core', '@alicloud/openapi-util',
  '@alicloud/tea-typescript', '@darabonba/typescript', '@alicloud/credentials', '@alicloud/tea-util',
];
const READ_TIMEOUT_MS = 10000;

const Ecs = require('@alicloud/ecs20140526');

// The Config class of the core the SDK depends on, as the SDK resolves it.
function sdkConfig() {
  const sdkDir = path.dirname(require.resolve('@alicloud/ecs20140526/package.json'));
  const deps = require(path.join(sdkDir, 'package.json')).dependencies || {};
  const from = (name) => require(require.resolve(name, { paths: [sdkDir] }));
  if (deps['@alicloud/openapi-core']) return from('@alicloud/openapi-core').$OpenApiUtil.Config;
  return from('@alicloud/openapi-client').Config;
}
const Config = sdkConfig();

const clients = new Map();

function client(req) {
  const cred = req.credentials || {};
  const key = JSON.stringify([req.endpoint, req.region, cred.access_key_id, cred.secret, cred.session_token]);
  if (!clients.has(key)) {
    const config = new Config({
      accessKeyId: cred.access_key_id,
      accessKeySecret: cred.secret,
      endpoint: req.endpoint,
      protocol: 'http',
      regionId: req.region,
      readTimeout: READ_TIMEOUT_MS,
    });
    if (cred.session_token) config.securityToken = cred.session_token;
    const Client = Ecs.default || Ecs;
    clients.set(key, new Client(config));
  }
  return clients.get(key);
}

function isModel(t) {
  return typeof t === 'function' && typeof t.names === 'function';
}

// A model instance from a wire-named object; unknown names go to `gone`.
function build(Model, obj, prefix, gone) {
  const names = Model.names();
  const types = Model.types();
  const byWire = {};
  for (const [prop, wire] of Object.entries(names)) byWire[wire] = prop;
  const props = {};
  for (const [wire, value] of Object.entries(obj)) {
    const prop = byWire[wire];
    if (prop === undefined) {
      gone.push(prefix + wire);
      continue;
    }
    props[prop] = typed(types[prop], value, `${prefix}${wire}.`, gone);
  }
  return new Model(props);
}

function typed(type, value, prefix, gone) {
  if (type && typeof type === 'object' && type.type === 'array') {
    const items = Array.isArray(value) ? value : [value];
    return items.map((v, i) => typed(type.itemType, v, `${prefix}${i + 1}.`, gone));
  }
  if (isModel(type) && value && typeof value === 'object' && !Array.isArray(value)) {
    return build(type, value, prefix, gone);
  }
  return value;
}

async function handle(req) {
  const { id, action } = req;
  const Model = Ecs[`${action}Request`];
  const api = client(req);
  const method = c.lcfirst(action);
  if (!isModel(Model) || typeof api[method] !== 'function') {
    return c.unsupported(id, `@alicloud/ecs20140526 has no ${action}Request model or ${method} method`);
  }
  const { tree, canonical } = c.nest(req.params);
  let request;
  let gone;
  try {
    request = build(Model, tree, '', []);
    gone = c.dropped(canonical, Object.keys(c.flatten(request.toMap())));
  } catch (e) {
    return c.unexpected(id, e, Object.keys(canonical).sort());
  }
  let resp;
  try {
    resp = await api[method](request);
  } catch (e) {
    return error(id, e, gone);
  }
  const body = resp && resp.body && typeof resp.body.toMap === 'function' ? resp.body.toMap() : null;
  return c.outcome(id, 'success', {
    status: resp && resp.statusCode !== undefined ? resp.statusCode : null,
    request_id: body ? body.RequestId || null : null,
    body,
    dropped: gone,
  });
}

function error(id, e, gone) {
  if (!e || e.code === undefined) return c.unexpected(id, e, gone);
  const data = e.data && typeof e.data === 'object' ? e.data : null;
  let status = e.statusCode !== undefined ? e.statusCode : null;
  if (status === null && data && data.statusCode !== undefined) status = data.statusCode;
  const requestId = e.requestId !== undefined ? e.requestId : data ? data.RequestId || null : null;
  return c.outcome(id, 'error', {
    status,
    code: e.code,
    message: e.message !== undefined ? e.message : null,
    request_id: requestId,
    body: data,
    exception: c.describeError(e),
    dropped: gone,
  });
}

c.serve('node-tea-ecs', PACKAGES, handle);
