# Ruby's dalli (Debian ruby-dalli 3.0.6, binary protocol: the only one it
# speaks) runs a fixed script against HOST:PORT. Usage:
#   ruby dalli_script.rb HOST:PORT
# Prints one line per step ("ok NAME" or "FAIL NAME: ..."), exits 0 only if
# every step passed. Bounded: 2 s socket timeout, 20 s for the whole script
# (steps after that fail without running).
require 'dalli'

SERVER = ARGV.fetch(0)
BUDGET = 20.0
$start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
$ok = 0
$failed = 0

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def fail_step(name, msg)
  $failed += 1
  puts "FAIL #{name}: #{msg}"
end

def run_step(name)
  if now - $start > BUDGET
    fail_step(name, "not run: the #{BUDGET} s budget is spent")
    return [:skipped, nil]
  end
  [:ran, yield]
rescue StandardError => e
  [:raised, e]
end

# want is compared with ==
def check(name, want, &block)
  how, got = run_step(name, &block)
  return if how == :skipped
  if how == :ran && got == want
    $ok += 1
    puts "ok #{name}"
  else
    fail_step(name, "got #{how == :raised ? "#{got.class}: #{got.message}" : got.inspect}, want #{want.inspect}")
  end
end

# the block's result must be truthy; desc says what was wanted
def check_that(name, desc, &block)
  how, got = run_step(name, &block)
  return if how == :skipped
  if how == :ran && got
    $ok += 1
    puts "ok #{name}"
  else
    fail_step(name, "wanted #{desc}, got #{how == :raised ? "#{got.class}: #{got.message}" : got.inspect}")
  end
end

def check_raises(name, klass, &block)
  how, got = run_step(name, &block)
  return if how == :skipped
  if how == :raised && got.is_a?(klass)
    $ok += 1
    puts "ok #{name}"
  else
    fail_step(name, "wanted #{klass}, got #{how == :raised ? "#{got.class}: #{got.message}" : got.inspect}")
  end
end

dc = Dalli::Client.new(SERVER, socket_timeout: 2, socket_max_failures: 1,
                                socket_failure_delay: false,
                                down_retry_delay: 0)
k = 'dalli:'
all_bytes = (0..255).map(&:chr).join.b * 4
big = Random.new(7).bytes(300_000)

puts "dalli #{Dalli::VERSION}"
check('version', true) { dc.version.values.first.is_a?(String) && !dc.version.values.first.empty? }
check_that('set', 'a cas') { dc.set(k + 'a', 'hello').is_a?(Integer) }
check('get', 'hello') { dc.get(k + 'a') }
check('get miss', nil) { dc.get(k + 'missing') }
check_that('set binary', 'a cas') { dc.set(k + 'bin', all_bytes, 0, raw: true) }
check('get binary', all_bytes) { dc.get(k + 'bin') }
check_that('set empty', 'a cas') { dc.set(k + 'empty', '', 0, raw: true) }
check('get empty', '') { dc.get(k + 'empty') }
check_that('set big', 'a cas') { dc.set(k + 'big', big, 0, raw: true) }
check('get big', big) { dc.get(k + 'big') }
check_that('set object', 'a cas') { dc.set(k + 'obj', { 'x' => [1, 2], y: 3.5 }) }
check('get object', { 'x' => [1, 2], y: 3.5 }) { dc.get(k + 'obj') }

# add / replace / delete
check('add existing', false) { dc.add(k + 'a', 'x') }
check_that('add new', 'a cas') { dc.add(k + 'b', 'bee') }
check('get added', 'bee') { dc.get(k + 'b') }
# dalli returns the reply's cas field on NOT_FOUND: memcached sends 0
check('replace missing', 0) { dc.replace(k + 'nope', 'x') }
check('get after replace miss', nil) { dc.get(k + 'nope') }
check_that('replace existing', 'a cas') { dc.replace(k + 'b', 'bee2') }
check('get replaced', 'bee2') { dc.get(k + 'b') }
check('delete', true) { dc.delete(k + 'b') }
check('delete again', nil) { dc.delete(k + 'b') }
check('get deleted', nil) { dc.get(k + 'b') }

# incr / decr
check_that('set counter', 'a cas') { dc.set(k + 'n', '10', 0, raw: true) }
check('incr', 15) { dc.incr(k + 'n', 5) }
check('decr', 12) { dc.decr(k + 'n', 3) }
check('decr below zero', 0) { dc.decr(k + 'n', 100) }
check('get counter', '0 ') { dc.get(k + 'n', raw: true) }
check('incr miss', nil) { dc.incr(k + 'nope', 1) }
check('decr miss', nil) { dc.decr(k + 'nope', 1) }
check('get after incr miss', nil) { dc.get(k + 'nope') }
check('incr miss with default', 42) { dc.incr(k + 'c', 1, 0, 42) }
check('incr created', 43) { dc.incr(k + 'c', 1) }
check('get created counter', '43') { dc.get(k + 'c', raw: true) }
check('decr miss with default', 5) { dc.decr(k + 'c2', 1, 100, 5) }
check_that('set max u64', 'a cas') { dc.set(k + 'w', '18446744073709551615', 0, raw: true) }
check('incr wraps', 1) { dc.incr(k + 'w', 2) }
check('get wrapped', '1' + ' ' * 19) { dc.get(k + 'w', raw: true) }
check_raises('incr non-numeric', Dalli::DalliError) { dc.incr(k + 'a', 1) }

# cas
v, cas = nil
check_that('get_cas', 'value and a non-zero cas') do
  v, cas = dc.get_cas(k + 'a')
  v == 'hello' && cas.is_a?(Integer) && cas != 0
end
check_that('set_cas current', 'a new cas') { (c2 = dc.set_cas(k + 'a', 'new', cas)) && c2 != cas }
check('set_cas stale', false) { dc.set_cas(k + 'a', 'newer', cas) }
check('get after cas', 'new') { dc.get(k + 'a') }
check('get_cas miss', [nil, 0]) { dc.get_cas(k + 'missing') }
check('replace_cas stale', false) { dc.replace_cas(k + 'a', 'x', cas) }
check_that('cas block', 'a new cas') { dc.cas(k + 'a') { |val| val + '!' }.is_a?(Integer) }
check('get after cas block', 'new!') { dc.get(k + 'a') }
check('cas block miss', nil) { dc.cas(k + 'missing') { |val| val + '!' } }
check('delete_cas stale', false) { dc.delete_cas(k + 'a', cas) }
check('delete_cas current', true) { dc.delete_cas(k + 'a', dc.get_cas(k + 'a')[1]) }
check('get after delete_cas', nil) { dc.get(k + 'a') }

# append / prepend
check_that('set raw', 'a cas') { dc.set(k + 'ap', 'mid', 0, raw: true) }
check('append', true) { dc.append(k + 'ap', '-end') }
check('prepend', true) { dc.prepend(k + 'ap', 'start-') }
check('get appended', 'start-mid-end') { dc.get(k + 'ap') }
check('append missing', false) { dc.append(k + 'nope', 'x') }
check('prepend missing', false) { dc.prepend(k + 'nope', 'x') }

# multi-get (getkq... noop) and quiet writes (setq/deleteq... noop)
check('multi quiet writes', nil) do
  dc.multi do
    dc.set(k + 'm1', 'one')
    dc.set(k + 'm2', [2])
    dc.set(k + 'm3', 'three', 0, raw: true)
    dc.set(k + 'm4', 'four')
    dc.delete(k + 'm4')
    dc.add(k + 'm1', 'not added')
  end
  nil
end
check('get_multi', { k + 'm1' => 'one', k + 'm2' => [2], k + 'm3' => 'three' }) do
  dc.get_multi(k + 'm1', k + 'nope', k + 'm2', k + 'm3', k + 'm4')
end
check('get_multi all missing', {}) { dc.get_multi(k + 'x1', k + 'x2') }
check_that('get_multi_cas', 'values with cas') do
  h = dc.get_multi_cas(k + 'm1', k + 'm3', k + 'nope')
  h.keys.sort == [k + 'm1', k + 'm3'] && h[k + 'm1'][0] == 'one' && h[k + 'm1'][1] != 0
end

# touch and gat change the expiry both ways (a TTL of 1 can end at the
# server's next whole-second tick, before the touch: t1 and t4 get 2)
check_that('set ttl 2', 'a cas') { dc.set(k + 't1', 'a', 2) }
check_that('set ttl 100', 'a cas') { dc.set(k + 't2', 'b', 100) }
check_that('set ttl 1 untouched', 'a cas') { dc.set(k + 't3', 'c', 1) }
check_that('set ttl 2 for gat', 'a cas') { dc.set(k + 't4', 'd', 2) }
check('touch longer', true) { dc.touch(k + 't1', 100) }
check('touch shorter', true) { dc.touch(k + 't2', 1) }
check('touch missing', nil) { dc.touch(k + 'nope', 100) }
check('gat longer', 'd') { dc.gat(k + 't4', 100) }
check('gat missing', nil) { dc.gat(k + 'nope', 100) }
sleep 2.2
check('touched longer survives', 'a') { dc.get(k + 't1') }
check('touched shorter expired', nil) { dc.get(k + 't2') }
check('untouched expired', nil) { dc.get(k + 't3') }
check('gat longer survives', 'd') { dc.get(k + 't4') }

check_that('stats', 'cmd_get > 0') { dc.stats.values.first['cmd_get'].to_i > 0 }
check_that('flush', 'true') { dc.flush.all? }
check('get after flush', nil) { dc.get(k + 't1') }
dc.close

puts "dalli summary: #{$ok} ok, #{$failed} failing"
exit($failed.zero? ? 0 : 1)
