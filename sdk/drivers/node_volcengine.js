'use strict';
// Driver for @volcengine/openapi (the generic Service / createAPI).
//
// Flavour:
//   node-volcengine  NODE_PATH=ENV/node_modules node sdk/drivers/node_volcengine.js
//
// Used as the package README shows for a service without a dedicated client:
// new Service({host, protocol, region, serviceName: 'ecs', defaultVersion,
// accessKeyId, secretKey, [sessionToken]}), service.createAPI(Action,
// {Version}) (its default: GET, params in the query), then api(params).
// The generic API has no models: its params object is the request, written
// by flat wire name (`InstanceIds.1`), so nothing is dropped and any action
// can be expressed. It answers every HTTP status with the body as-is
// (axios validateStatus: null): an error body is a "success" whose code and
// message the driver reads from ResponseMetadata.Error, as a user would.

const path = require('path');
const c = require(path.join(__dirname, '_common.js'));

const PACKAGES = ['@volcengine/openapi', 'axios', 'crypto-js', 'lodash.get', 'debug'];

const { Service } = require('@volcengine/openapi');

const services = new Map();

function service(req) {
  const cred = req.credentials || {};
  const key = JSON.stringify([req.endpoint, req.region, req.service, req.version, cred.access_key_id, cred.secret,
    cred.session_token]);
  if (!services.has(key)) {
    const options = {
      host: req.endpoint,
      protocol: 'http:',
      region: req.region || 'cn-beijing',
      serviceName: req.service || 'ecs',
      defaultVersion: req.version || '2020-04-01',
      accessKeyId: cred.access_key_id,
      secretKey: cred.secret,
    };
    if (cred.session_token) options.sessionToken = cred.session_token;
    services.set(key, new Service(options));
  }
  return services.get(key);
}

async function handle(req) {
  const { id, action } = req;
  const params = {};
  for (const p of req.params) params[p.name] = c.convert(p.value, p.type || 'string');
  const api = service(req).createAPI(action, { Version: req.version || '2020-04-01' });
  let body;
  try {
    body = await api(params);
  } catch (e) {
    return c.unexpected(id, e);
  }
  const meta = body && typeof body === 'object' && body.ResponseMetadata ? body.ResponseMetadata : {};
  const err = meta.Error && typeof meta.Error === 'object' ? meta.Error : {};
  // A user reads the answer's `Result` (the Python SDK decodes exactly
  // that); an error answer has none, so its whole body is the error data.
  const result = body && typeof body === 'object' && body.Result !== undefined && !meta.Error ? body.Result : body;
  return c.outcome(id, 'success', {
    code: err.Code !== undefined ? err.Code : null,
    message: err.Message !== undefined ? err.Message : null,
    request_id: meta.RequestId !== undefined ? meta.RequestId : null,
    body: result,
  });
}

c.serve('node-volcengine', PACKAGES, handle);
