'use strict';
// Unit tests of the Node drivers' shared plumbing (no SDK needed).
//
//   node --test sdk/tests/

const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawnSync } = require('child_process');

const DRIVERS = path.join(__dirname, '..', 'drivers');
const c = require(path.join(DRIVERS, '_common.js'));

const p = (name, value, type = 'string') => ({ name, value, type });

test('values convert to the contract type, or stay raw', () => {
  assert.strictEqual(c.convert('60', 'integer'), 60);
  assert.strictEqual(c.convert('TRUE', 'boolean'), true);
  assert.deepStrictEqual(c.convert('["a"]', 'array'), ['a']);
  assert.strictEqual(c.convert('sixty', 'integer'), 'sixty');
  assert.strictEqual(c.convert('yes', 'boolean'), 'yes');
});

test('nesting: objects, lists ordered by N, canonical names', () => {
  const { tree, canonical } = c.nest([
    p('SystemDisk.Size', '60', 'integer'), p('Arn.1.RoleType', 'P'), p('Arn.1.Tag.2', 'y'), p('Arn.1.Tag.1', 'x'),
    p('KeyId.3', 'c'), p('KeyId.0', 'a'),
  ]);
  assert.deepStrictEqual(tree, {
    SystemDisk: { Size: 60 }, Arn: [{ RoleType: 'P', Tag: ['x', 'y'] }], KeyId: ['a', 'c'],
  });
  assert.strictEqual(canonical['KeyId.0'], 'KeyId.1');
  assert.strictEqual(canonical['KeyId.3'], 'KeyId.2');
  assert.strictEqual(canonical['Arn.1.Tag.2'], 'Arn.1.Tag.2');
  assert.throws(() => c.nest([p('A', '1'), p('A.B', '2')]), /conflicting/);
});

test('dropped: names the round trip does not give back', () => {
  const { canonical } = c.nest([p('InstanceId', 'i'), p('KeyId.0', 'k'), p('Bogus', 'x')]);
  const kept = Object.keys(c.flatten({ InstanceId: 'i', KeyId: ['k'], Other: null }));
  assert.deepStrictEqual(c.dropped(canonical, kept), ['Bogus']);
});

test('error description: class, prototype chain, public own keys', () => {
  class Base extends Error {}
  class Boom extends Base {
    constructor() {
      super('boom');
      this.code = 'X';
      this.retryAfter = 1500;
      this._private = 1;
    }
  }
  assert.deepStrictEqual(c.describeError(new Boom()), {
    class: 'Boom', bases: ['Base', 'Error'], retry_after: 1500, attributes: ['code', 'retryAfter'],
  });
});

const LOOP = `
const c = require(process.argv[1] + '/_common.js');
c.serve('test', ['no-such-package'], async (req) => {
  if (req.action === 'Raise') throw new Error('failed with ' + req.credentials.secret);
  console.log('noise from an SDK');
  return c.outcome(req.id, 'success', { body: { echo: req.credentials.session_token } });
});
`;

test('the loop: one line per input, bad input survived, secrets scrubbed', () => {
  const credentials = { secret: 'sk-123456', session_token: 'tok/123456' };
  const call = { action: 'X', endpoint: 'e', params: [], credentials };
  const input = ['not json', '\xff\xfe', '[]', '{"id": 1}', JSON.stringify({ ...call, id: 2, action: 'Raise' }),
    JSON.stringify({ ...call, id: 3 })].join('\n') + '\n';
  const r = spawnSync(process.execPath, ['-e', LOOP, DRIVERS], { input, timeout: 60000 });
  const out = r.stdout.toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepStrictEqual(out[0], { hello: { flavour: 'test', packages: { 'no-such-package': null } } });
  assert.deepStrictEqual(out.slice(1).map((o) => o.outcome),
    ['unsupported', 'unsupported', 'unsupported', 'unsupported', 'error', 'success']);
  assert.ok(out.slice(1, 5).every((o) => o.reason.startsWith('bad input')));
  assert.strictEqual(out[4].id, 1);
  assert.strictEqual(out[5].message, 'failed with [redacted]');
  assert.deepStrictEqual(out[6].body, { echo: '[redacted]' });
  const err = r.stderr.toString();
  assert.ok(err.includes('noise from an SDK'));
  assert.ok(!err.includes('sk-123456'));
});

test('probe: the installed copy, and a nested copy that wins', () => {
  const fs = require('fs');
  const os = require('os');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'apiconform-probe-'));
  const pkg = (dir, version) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'lib-x', version }));
    fs.writeFileSync(path.join(dir, 'index.js'), `module.exports = '${version}';`);
  };
  const top = path.join(root, 'node_modules', 'lib-x');
  const nested = path.join(root, 'node_modules', 'sdk-y', 'node_modules', 'lib-x');
  pkg(top, '2.0.0');
  pkg(nested, '1.0.0');
  const saved = process.env.NODE_PATH;
  process.env.NODE_PATH = path.join(root, 'node_modules');
  try {
    assert.deepStrictEqual(c.probe('lib-x').loaded, []);
    require(nested); // the SDK's own copy
    const p = c.probe('lib-x');
    assert.strictEqual(p.installed.version, '2.0.0');
    assert.deepStrictEqual(p.loaded.map((x) => x.version), ['1.0.0']);
  } finally {
    process.env.NODE_PATH = saved;
    fs.rmSync(root, { recursive: true, force: true });
  }
});
