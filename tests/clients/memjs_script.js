// memjs (npm, binary protocol only; pinned in package.json) runs a fixed
// script against HOST:PORT. Usage: node memjs_script.js HOST:PORT
// memjs 1.3.2 has no gets/cas and no multi-get call: the multi-get step
// pipelines concurrent gets on the one connection instead.
// Prints one line per step ("ok NAME" or "FAIL NAME: ..."), exits 0 only if
// every step passed. Bounded: 3 s per step, 20 s for the script.
'use strict';
const assert = require('assert');
const memjs = require('memjs');

const SERVER = process.argv[2];
const BUDGET_MS = 20000;
const start = Date.now();
let ok = 0;
let failed = 0;

function fail(name, msg) {
  failed++;
  console.log('FAIL ' + name + ': ' + msg);
}

function show(v) {
  if (Buffer.isBuffer(v)) {
    return v.length > 60 ? 'Buffer(' + v.length + ') ' + v.subarray(0, 60).toString('hex') + '...'
                         : 'Buffer ' + JSON.stringify(v.toString('latin1'));
  }
  return JSON.stringify(v);
}

// A step whose callback never comes (memjs can lose one when a reply is
// malformed or missing) fails after STEP_MS instead of hanging the script.
const STEP_MS = 3000;
function withTimeout(fn) {
  let timer;
  return Promise.race([
    Promise.resolve().then(fn),
    new Promise((res, rej) => {
      timer = setTimeout(() => rej(new Error('no reply within ' + STEP_MS + ' ms')), STEP_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

// fn returns a promise (or value); want is compared with deepStrictEqual.
async function check(name, want, fn) {
  if (Date.now() - start > BUDGET_MS) {
    fail(name, 'not run: the ' + BUDGET_MS / 1000 + ' s budget is spent');
    return undefined;
  }
  let got;
  try {
    got = await withTimeout(fn);
  } catch (e) {
    fail(name, 'raised ' + (e && e.message ? e.message : String(e)));
    return undefined;
  }
  try {
    assert.deepStrictEqual(got, want);
  } catch (e) {
    fail(name, 'got ' + show(got) + ', want ' + show(want));
    return got;
  }
  ok++;
  console.log('ok ' + name);
  return got;
}

// memjs reports status codes it has no case for as an Error
async function checkRejects(name, re, fn) {
  if (Date.now() - start > BUDGET_MS) {
    fail(name, 'not run: the budget is spent');
    return;
  }
  try {
    const got = await withTimeout(fn);
    fail(name, 'resolved with ' + show(got) + ', want an error matching ' + re);
  } catch (e) {
    const msg = e && e.message ? e.message : String(e);
    if (re.test(msg)) {
      ok++;
      console.log('ok ' + name);
    } else {
      fail(name, 'error ' + JSON.stringify(msg) + ' does not match ' + re);
    }
  }
}

const val = (r) => (r.value === null ? null : r.value.toString('latin1'));
const raw = (r) => r.value;
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function main() {
  const quiet = { log: () => {} };
  const mc = memjs.Client.create(SERVER, { timeout: 2, conntimeout: 2,
                                           retries: 0, logger: quiet });
  const k = 'memjs:';
  const all = Buffer.alloc(1024);
  for (let i = 0; i < all.length; i++) all[i] = i & 255;
  const big = Buffer.alloc(300000);
  let x = 7;
  for (let i = 0; i < big.length; i++) { x = (x * 1103515245 + 12345) >>> 0; big[i] = x >>> 24; }

  console.log('memjs ' + require('memjs/package.json').version);
  await check('version', true, async () => /^\d+\.\d+\.\d+/.test(
    Object.values(await new Promise((res, rej) => {
      const out = {};
      mc.stats((err, server, stats) => (err ? rej(err) : res({ [server]: stats.version })));
    }))[0]));
  await check('set', true, () => mc.set(k + 'a', 'hello'));
  await check('get', 'hello', async () => val(await mc.get(k + 'a')));
  await check('get flags', Buffer.from([0, 0, 0, 0]), async () => (await mc.get(k + 'a')).flags);
  await check('get miss', { value: null, flags: null }, () => mc.get(k + 'missing'));
  await check('set binary', true, () => mc.set(k + 'bin', all));
  await check('get binary', all, async () => raw(await mc.get(k + 'bin')));
  await check('set empty', true, () => mc.set(k + 'empty', ''));
  await check('get empty', '', async () => val(await mc.get(k + 'empty')));
  await check('set big', true, () => mc.set(k + 'big', big));
  await check('get big', big, async () => raw(await mc.get(k + 'big')));

  // add / replace / delete
  await check('add existing', false, () => mc.add(k + 'a', 'x'));
  await check('add new', true, () => mc.add(k + 'b', 'bee'));
  await check('get added', 'bee', async () => val(await mc.get(k + 'b')));
  await check('replace missing', false, () => mc.replace(k + 'nope', 'x'));
  await check('get after replace miss', null, async () => val(await mc.get(k + 'nope')));
  await check('replace existing', true, () => mc.replace(k + 'b', 'bee2'));
  await check('get replaced', 'bee2', async () => val(await mc.get(k + 'b')));
  await check('delete', true, () => mc.delete(k + 'b'));
  await check('delete again', false, () => mc.delete(k + 'b'));
  await check('get deleted', null, async () => val(await mc.get(k + 'b')));

  // incr / decr (memjs always sends expiry 0: a miss creates the key)
  await check('set counter', true, () => mc.set(k + 'n', '10'));
  await check('increment', { success: true, value: 15 }, () => mc.increment(k + 'n', 5));
  await check('decrement', { success: true, value: 12 }, () => mc.decrement(k + 'n', 3, {}));
  await check('decrement below zero', { success: true, value: 0 }, () => mc.decrement(k + 'n', 100, {}));
  await check('get counter', '0 ', async () => val(await mc.get(k + 'n')));
  await check('increment miss creates initial', { success: true, value: 42 },
              () => mc.increment(k + 'c', 1, { initial: 42 }));
  await check('increment created', { success: true, value: 43 }, () => mc.increment(k + 'c', 1));
  await check('get created counter', '43', async () => val(await mc.get(k + 'c')));
  await check('decrement miss creates 0', { success: true, value: 0 }, () => mc.decrement(k + 'c0', 1, {}));
  await check('set max u64', true, () => mc.set(k + 'w', '18446744073709551615'));
  await check('increment wraps', { success: true, value: 1 }, () => mc.increment(k + 'w', 2));
  await check('get wrapped', '1' + ' '.repeat(19), async () => val(await mc.get(k + 'w')));
  await checkRejects('increment non-numeric', /INCREMENT/, () => mc.increment(k + 'a', 1));
  await check('get after increment non-numeric', 'hello', async () => val(await mc.get(k + 'a')));

  // append / prepend
  await check('set mid', true, () => mc.set(k + 'ap', 'mid'));
  await check('append', true, () => mc.append(k + 'ap', '-end'));
  await check('prepend (sent as append)', true, () => mc.prepend(k + 'ap', 'start-'));
  // memjs 1.3.2's prepend() sends opcode 0x0e (append), not 0x0f: the
  // server appends, and this checks exactly that
  await check('get appended', 'mid-endstart-', async () => val(await mc.get(k + 'ap')));
  await checkRejects('append missing', /APPEND: Item not stored/, () => mc.append(k + 'nope', 'x'));
  await checkRejects('prepend missing', /PREPEND: Item not stored/, () => mc.prepend(k + 'nope', 'x'));
  await check('get after append miss', null, async () => val(await mc.get(k + 'nope')));

  // multi-get: gets pipelined on one connection, answered in order
  await check('pipelined sets', [true, true, true], () => Promise.all([
    mc.set(k + 'm1', 'one'), mc.set(k + 'm2', 'two'), mc.set(k + 'm3', all)]));
  await check('pipelined gets', ['one', null, 'two', all, null], async () => {
    const rs = await Promise.all([k + 'm1', k + 'nope', k + 'm2', k + 'm3', k + 'nope2']
      .map((key) => mc.get(key)));
    return rs.map((r, i) => (i === 3 ? r.value : val(r)));
  });

  // touch changes the expiry both ways (a TTL of 1 can end at the server's
  // next whole-second tick, before the touch: t1 gets 2)
  await check('set ttl 2', true, () => mc.set(k + 't1', 'a', { expires: 2 }));
  await check('set ttl 100', true, () => mc.set(k + 't2', 'b', { expires: 100 }));
  await check('set ttl 1 untouched', true, () => mc.set(k + 't3', 'c', { expires: 1 }));
  await check('touch longer', true, () => mc.touch(k + 't1', 100));
  await check('touch shorter', true, () => mc.touch(k + 't2', 1));
  await check('touch missing', false, () => mc.touch(k + 'nope', 100));
  await sleep(2200);
  await check('touched longer survives', 'a', async () => val(await mc.get(k + 't1')));
  await check('touched shorter expired', null, async () => val(await mc.get(k + 't2')));
  await check('untouched expired', null, async () => val(await mc.get(k + 't3')));

  await check('stats', true, () => new Promise((res, rej) => {
    mc.stats((err, server, stats) => (err ? rej(err) : res(Number(stats.cmd_get) > 0 &&
                                                            'curr_items' in stats)));
  }));
  await check('flush', true, async () => Object.values(await mc.flush()).every((v) => v === true));
  await check('get after flush', null, async () => val(await mc.get(k + 't1')));
  mc.close();
}

const guard = setTimeout(() => {
  fail('script', 'still running after ' + (BUDGET_MS + 10000) / 1000 + ' s');
  console.log('memjs summary: ' + ok + ' ok, ' + failed + ' failing');
  process.exit(1);
}, BUDGET_MS + 10000);

main().catch((e) => fail('script', 'raised ' + (e && e.stack ? e.stack : e))).finally(() => {
  clearTimeout(guard);
  console.log('memjs summary: ' + ok + ' ok, ' + failed + ' failing');
  process.exit(failed === 0 ? 0 : 1);
});
