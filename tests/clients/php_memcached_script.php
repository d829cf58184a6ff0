<?php
// PHP's memcached extension (Debian php-memcached, over libmemcached) with
// Memcached::OPT_BINARY_PROTOCOL runs a fixed script against HOST PORT.
// Usage: php php_memcached_script.php HOST PORT
// Prints one line per step ("ok NAME" or "FAIL NAME: ..."), exits 0 only if
// every step passed. Bounded: 2 s network timeouts, 20 s for the script
// (steps after that fail without running).

$host = $argv[1];
$port = (int)$argv[2];
const BUDGET = 20.0;
$start = microtime(true);
$ok = 0;
$failed = 0;

function step_fail($name, $msg) {
    global $failed;
    $failed++;
    echo "FAIL $name: $msg\n";
}

function show($v) {
    return str_replace("\n", ' ', var_export($v, true));
}

// Runs $fn and compares its result with $want (===). $rc: the wanted
// getResultCode() after the call, or null.
function check($name, $want, $fn, $rc = null) {
    global $ok, $start, $m;
    if (microtime(true) - $start > BUDGET) {
        step_fail($name, 'not run: the ' . BUDGET . ' s budget is spent');
        return null;
    }
    try {
        $got = $fn();
    } catch (Throwable $e) {
        step_fail($name, 'raised ' . get_class($e) . ': ' . $e->getMessage());
        return null;
    }
    $code = $m->getResultCode();
    if ($got !== $want) {
        step_fail($name, 'got ' . show($got) . ', want ' . show($want) .
                  ' (result ' . $code . ' ' . $m->getResultMessage() . ')');
    } elseif ($rc !== null && $code !== $rc) {
        step_fail($name, 'result code ' . $code . ' ' .
                  $m->getResultMessage() . ', want ' . $rc);
    } else {
        $ok++;
        echo "ok $name\n";
    }
    return $got;
}

$m = new Memcached();
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
$m->setOption(Memcached::OPT_COMPRESSION, false);   // append needs it off
$m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 2000);
$m->setOption(Memcached::OPT_POLL_TIMEOUT, 2000);
$m->setOption(Memcached::OPT_RECV_TIMEOUT, 2000000);
$m->setOption(Memcached::OPT_SEND_TIMEOUT, 2000000);
$m->addServer($host, $port);
$srv = "$host:$port";
$k = 'php:';
$all = '';
for ($i = 0; $i < 256; $i++) { $all .= chr($i); }
$all = str_repeat($all, 4);
mt_srand(7);
$big = '';
for ($i = 0; $i < 300000; $i++) { $big .= chr(mt_rand(0, 255)); }

echo 'php-memcached ' . phpversion('memcached') . ', binary protocol: ' .
     show($m->getOption(Memcached::OPT_BINARY_PROTOCOL)) . "\n";
check('version', true, function () use ($m, $srv) {
    $v = $m->getVersion();
    return is_array($v) && isset($v[$srv]) && preg_match('/^\d+\.\d+\.\d+/', $v[$srv]) === 1;
});
check('set', true, fn() => $m->set($k . 'a', 'hello'), Memcached::RES_SUCCESS);
check('get', 'hello', fn() => $m->get($k . 'a'), Memcached::RES_SUCCESS);
check('get miss', false, fn() => $m->get($k . 'missing'), Memcached::RES_NOTFOUND);
check('set binary', true, fn() => $m->set($k . 'bin', $all));
check('get binary', $all, fn() => $m->get($k . 'bin'));
check('set empty', true, fn() => $m->set($k . 'empty', ''));
check('get empty', '', fn() => $m->get($k . 'empty'), Memcached::RES_SUCCESS);
check('set big', true, fn() => $m->set($k . 'big', $big));
check('get big', $big, fn() => $m->get($k . 'big'));
check('set array', true, fn() => $m->set($k . 'arr', ['x' => [1, 2], 'y' => 3.5]));
check('get array', ['x' => [1, 2], 'y' => 3.5], fn() => $m->get($k . 'arr'));
check('set int', true, fn() => $m->set($k . 'int', 12345));
check('get int', 12345, fn() => $m->get($k . 'int'));

// add / replace / delete
check('add existing', false, fn() => $m->add($k . 'a', 'x'), Memcached::RES_DATA_EXISTS);
check('add new', true, fn() => $m->add($k . 'b', 'bee'));
check('get added', 'bee', fn() => $m->get($k . 'b'));
check('replace missing', false, fn() => $m->replace($k . 'nope', 'x'), Memcached::RES_NOTFOUND);
check('replace existing', true, fn() => $m->replace($k . 'b', 'bee2'));
check('get replaced', 'bee2', fn() => $m->get($k . 'b'));
check('delete', true, fn() => $m->delete($k . 'b'));
check('delete again', false, fn() => $m->delete($k . 'b'), Memcached::RES_NOTFOUND);
check('get deleted', false, fn() => $m->get($k . 'b'), Memcached::RES_NOTFOUND);

// incr / decr
check('set counter', true, fn() => $m->set($k . 'n', '10'));
check('increment', 15, fn() => $m->increment($k . 'n', 5));
check('decrement', 12, fn() => $m->decrement($k . 'n', 3));
check('decrement below zero', 0, fn() => $m->decrement($k . 'n', 100));
check('get counter', '0 ', fn() => $m->get($k . 'n'));
check('increment miss', false, fn() => $m->increment($k . 'nope', 1), Memcached::RES_NOTFOUND);
check('decrement miss', false, fn() => $m->decrement($k . 'nope', 1), Memcached::RES_NOTFOUND);
check('increment miss with initial', 42, fn() => $m->increment($k . 'c', 1, 42, 100));
check('increment created', 43, fn() => $m->increment($k . 'c', 1));
check('get created counter', '43', fn() => $m->get($k . 'c'));
check('decrement miss with initial', 5, fn() => $m->decrement($k . 'c2', 1, 5, 0));
check('set max u64', true, fn() => $m->set($k . 'w', '18446744073709551615'));
check('increment wraps', 1, fn() => $m->increment($k . 'w', 2));
check('get wrapped', '1' . str_repeat(' ', 19), fn() => $m->get($k . 'w'));
check('increment non-numeric', false, fn() => $m->increment($k . 'a', 1));
check('get after increment non-numeric', 'hello', fn() => $m->get($k . 'a'));

// cas
$ext = null;
check('get extended', true, function () use ($m, $k, &$ext) {
    $ext = $m->get($k . 'a', null, Memcached::GET_EXTENDED);
    return is_array($ext) && $ext['value'] === 'hello' && $ext['cas'] > 0;
});
$cas = is_array($ext) ? $ext['cas'] : 0;
check('cas current', true, fn() => $m->cas($cas, $k . 'a', 'new'), Memcached::RES_SUCCESS);
check('cas stale', false, fn() => $m->cas($cas, $k . 'a', 'newer'), Memcached::RES_DATA_EXISTS);
check('get after cas', 'new', fn() => $m->get($k . 'a'));
check('cas missing', false, fn() => $m->cas($cas, $k . 'nope', 'x'), Memcached::RES_NOTFOUND);
check('cas changed', true, function () use ($m, $k, $cas) {
    $e = $m->get($k . 'a', null, Memcached::GET_EXTENDED);
    return $e['value'] === 'new' && $e['cas'] !== $cas && $e['cas'] > 0;
});

// append / prepend
check('set mid', true, fn() => $m->set($k . 'ap', 'mid'));
check('append', true, fn() => $m->append($k . 'ap', '-end'));
check('prepend', true, fn() => $m->prepend($k . 'ap', 'start-'));
check('get appended', 'start-mid-end', fn() => $m->get($k . 'ap'));
check('append missing', false, fn() => $m->append($k . 'nope', 'x'), Memcached::RES_NOTSTORED);
check('prepend missing', false, fn() => $m->prepend($k . 'nope', 'x'), Memcached::RES_NOTSTORED);
check('get after append miss', false, fn() => $m->get($k . 'nope'));

// multi
check('setMulti', true, fn() => $m->setMulti([$k . 'm1' => 'one', $k . 'm2' => [2], $k . 'm3' => 3]));
check('getMulti', [$k . 'm1' => 'one', $k . 'm2' => [2], $k . 'm3' => 3],
      function () use ($m, $k) {
          $r = $m->getMulti([$k . 'm1', $k . 'nope', $k . 'm2', $k . 'm3']);
          if (is_array($r)) { ksort($r); }
          return $r;
      });
check('getMulti preserve order', [$k . 'm3' => 3, $k . 'nope' => null, $k . 'm1' => 'one'],
      fn() => $m->getMulti([$k . 'm3', $k . 'nope', $k . 'm1'], Memcached::GET_PRESERVE_ORDER));
check('getMulti all missing', [], fn() => $m->getMulti([$k . 'x1', $k . 'x2']));
check('getMulti extended', true, function () use ($m, $k) {
    $r = $m->getMulti([$k . 'm1', $k . 'm3'], Memcached::GET_EXTENDED);
    return $r[$k . 'm1']['value'] === 'one' && $r[$k . 'm1']['cas'] > 0 &&
           $r[$k . 'm3']['value'] === 3;
});
check('getDelayed + fetchAll', [[$k . 'm1', 'one'], [$k . 'm2', [2]]], function () use ($m, $k) {
    if (!$m->getDelayed([$k . 'm1', $k . 'nope', $k . 'm2'])) { return 'getDelayed failed'; }
    $rows = $m->fetchAll();
    $out = [];
    foreach ($rows as $r) { $out[] = [$r['key'], $r['value']]; }
    sort($out);
    return $out;
});
check('deleteMulti', [$k . 'm1' => true, $k . 'nope' => Memcached::RES_NOTFOUND],
      fn() => $m->deleteMulti([$k . 'm1', $k . 'nope']));
check('getMulti after deleteMulti', [$k . 'm2' => [2]], fn() => $m->getMulti([$k . 'm1', $k . 'm2']));

// touch changes the expiry both ways (a TTL of 1 can end at the server's
// next whole-second tick, before the touch: t1 gets 2)
check('set ttl 2', true, fn() => $m->set($k . 't1', 'a', 2));
check('set ttl 100', true, fn() => $m->set($k . 't2', 'b', 100));
check('set ttl 1 untouched', true, fn() => $m->set($k . 't3', 'c', 1));
check('touch longer', true, fn() => $m->touch($k . 't1', 100));
check('touch shorter', true, fn() => $m->touch($k . 't2', 1));
check('touch missing', false, fn() => $m->touch($k . 'nope', 100), Memcached::RES_NOTFOUND);
usleep(2200000);
check('touched longer survives', 'a', fn() => $m->get($k . 't1'));
check('touched shorter expired', false, fn() => $m->get($k . 't2'), Memcached::RES_NOTFOUND);
check('untouched expired', false, fn() => $m->get($k . 't3'), Memcached::RES_NOTFOUND);

check('stats', true, function () use ($m, $srv) {
    $s = $m->getStats();
    return isset($s[$srv]) && $s[$srv]['cmd_get'] > 0 && isset($s[$srv]['curr_items']);
});
check('flush', true, fn() => $m->flush());
check('get after flush', false, fn() => $m->get($k . 't1'), Memcached::RES_NOTFOUND);
$m->quit();

echo "php-memcached summary: $ok ok, $failed failing\n";
exit($failed === 0 ? 0 : 1);
