"""bench/rerun_empty.py - one more run of a tiercache-bench window that
completed nothing.

Why: on CI's shared 2 CPUs a client or server has been frozen for the whole
of a 1-2.5 s measured window. tiercache-bench then says so on stderr
(NOTHING_DONE) with its per-thread diagnosis. Its callers (bench/compare,
bench/multidev, tests/bench/test_bench.py) run such a window once more; a
second empty one is theirs to report. No state, no globals.
"""

# what tiercache-bench prints (stderr) when its window completed nothing
NOTHING_DONE = "nothing completed in the measured window"


def once_more_if_empty(once, stderr_of, say=None):
    """Calls once(); if stderr_of(its result) (str or bytes) holds
    NOTHING_DONE, calls say(that result) if given, then once() again.
    Returns the last result."""
    r = once()
    err = stderr_of(r)
    if isinstance(err, bytes):
        err = err.decode(errors="replace")
    if NOTHING_DONE in err:
        if say:
            say(r)
        r = once()
    return r
