#!/usr/bin/env bash
# The ticking thread never waits on I/O: tick_trace_app (durability full, a side-effecting
# native tool, a model port another thread answers after 2 s) traced twice.
#   `strace -ff -T`: the ticking thread makes no fsync, fdatasync, msync, sync_file_range,
#     connect or recv*, and no poll, select or epoll wait with a timeout, inside a tick;
#     another thread did sync the ledger.
#   `perf trace` (the kernel's own syscall tracepoints: strace's times include the tracer's
#     own scheduling, a 4 ms gettid on two cores): no call of the ticking thread inside a
#     tick takes over 200 µs — the allocator's heap growth (mmap, mprotect, brk, …) and
#     calls that cannot wait (a futex wake, a non-blocking eventfd) are counted apart.
#     Needs root (tracefs); as another user this half is skipped, saying so.
# Inside a tick:
#   none:   between the app's write(-1, "B", 1) and write(-1, "EE", 2) markers (main thread).
#   worker: the worker thread (the one the tool runs on) at any time but its sleep between
#           ticks (a poll on the host's wake-up descriptor, or a yield) and taking the host's
#           lock right after it.
# In a sanitizer build only the first half runs: its times are the sanitizer's (an
# instrumented allocator with locks of its own, three times the work), not the product's.
# Usage: tick_trace_test.sh TICK_TRACE_APP none|worker [timed|untimed]
set -euo pipefail
app=$1
mode=$2
timed=${3:-timed}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The ticking thread's id, printed by the app; its trace file (strace -ff: trace.TID).
run_app() {  # run_app TRACER...: runs the app under the tracer in a new ledger; sets $tid
  rm -rf "$dir/ledger" && mkdir "$dir/ledger"
  if ! "$@" "$app" "$dir/ledger" "$mode" 8 >"$dir/out" 2>"$dir/err"; then
    echo "tick_trace_app failed under $1:"; cat "$dir/err"; exit 1
  fi
  tid=$(awk '/^ticking thread/ {print $3}' "$dir/out")
  [ -n "$tid" ] && [ "$tid" != 0 ] || { echo "no ticking thread reported"; cat "$dir/out"; exit 1; }
}

# Shared by both analyses (awk): whether a call of the worker thread is outside a tick.
sleeping_fn='
  # worker: it starts with its set-up calls (more in a sanitizer build) and taking the host
  # lock, which an entry of the application may hold; its sleep between ticks is a poll on
  # the wake-up descriptor (or a yield), then reading that descriptor and taking the lock.
  function sleeping(name) {
    if (phase == 0) {  # setting up, until it waits for the lock or first sleeps
      if (name == "futex") phase = 1
      if (name == "poll" || name == "sched_yield") phase = 2
      else return 1
    }
    if (phase == 1) {  # taking the lock
      if (name == "futex") return 1
      phase = 2
    }
    if (name == "poll" || name == "sched_yield") { asleep = 1; return 1 }
    if (asleep && (name == "futex" || name == "read")) return 1
    asleep = 0
    return 0
  }
'

# ---- the calls made: strace ----
command -v strace >/dev/null || { echo "strace is not installed (.ci/install-deps installs it)"; exit 1; }
# LeakSanitizer cannot run under ptrace (a sanitizer build): leaks are the other tests' to find.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" run_app strace -ff -T -qq -o "$dir/trace"
[ -s "$dir/trace.$tid" ] || { echo "no trace of the ticking thread $tid"; ls "$dir"; exit 1; }
synced=$(cat $(ls "$dir"/trace.* | grep -v "trace.$tid\$") |
  grep -cE '^(fsync|fdatasync|msync|sync_file_range)\(' || true)
awk -v mode="$mode" -v synced="$synced" "$sleeping_fn"'
  function fail(why) { print "strace line " NR ": " why ": " $0; bad++ }
  {
    line = $0
    name = line; sub(/\(.*/, "", name)
    if (mode == "none") {
      if (line ~ /^write\(-1, "B", 1\)/) { inside = 1; ticks++; next }
      if (line ~ /^write\(-1, "EE", 2\)/) { inside = 0; next }
      if (!inside) next
    } else if (sleeping(name)) {
      next
    }
    calls++
    if (name ~ /^(fsync|fdatasync|msync|sync_file_range|connect|recv|recvfrom|recvmsg|recvmmsg)$/)
      fail("I/O on the ticking thread")
    if (name ~ /^(poll|ppoll|select|pselect6|epoll_wait|epoll_pwait|epoll_pwait2)$/) {
      timeout = line; sub(/\) += .*/, "", timeout); sub(/.*, */, "", timeout)
      if (timeout != "0" && timeout != "NULL" && timeout != "{tv_sec=0, tv_nsec=0}")
        fail("a wait with a timeout inside a tick")
    }
  }
  END {
    if (mode == "none" && ticks < 10) { print "only " ticks + 0 " ticks traced"; bad++ }
    if (calls == 0) { print "no system call traced inside a tick"; bad++ }
    if (synced == 0) { print "no other thread synced the ledger: durability full was not traced"; bad++ }
    printf "strace, %s: %d calls inside ticks, %d ticks, %d syncs by other threads, %d problems\n",
           mode, calls, ticks, synced, bad
    exit bad > 0
  }' "$dir/trace.$tid"

# ---- how long they took: perf trace ----
if [ "$timed" != timed ]; then
  echo "durations not checked: a sanitizer build (its allocator and its pace are not the product's)"
  exit 0
fi
if ! perf trace -o "$dir/probe" -- true >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "perf trace does not work here as root (.ci/install-deps installs linux-perf)"; exit 1
  fi
  echo "durations not checked: perf trace needs root (tracefs) and this is uid $(id -u)"
  exit 0
fi
run_app perf trace -o "$dir/perf"
awk -v tid="$tid" -v mode="$mode" "$sleeping_fn"'
  # A call that cannot wait (waking a futex waiter, the non-blocking eventfds, asking the
  # time or the thread id) and still took long was not waiting: the machine took the CPU
  # away during it (preemption by the thread it woke, the hypervisor running another guest).
  # Counted, not judged: the calls that can wait (a futex wait, a read, a write, a poll) are.
  function cannot_wait(name, rest) {
    if (name == "futex") return rest ~ /op: (WAKE|WAKE_OP|REQUEUE|CMP_REQUEUE|UNLOCK_PI|TRYLOCK_PI)[|,)]/
    if (name == "read" || name == "write") return rest ~ /^[a-z]+\(fd: [0-9]+<anon_inode:\[eventfd\]>/
    return name ~ /^(gettid|getpid|clock_gettime|getrusage)$/
  }
  function fail(why) {
    print "perf line " NR ": " why ": " $0 "\n  after: " prev[1] "\n         " prev[2]
    bad++
  }
  {
    if (!match($0, /\): [^ ]*\/[0-9]+ /)) next
    who = substr($0, RSTART + 3, RLENGTH - 4); sub(/.*\//, "", who)
    if (who != tid) next
    rest = substr($0, RSTART + RLENGTH)
    sub(/^ *\.\.\. \[continued\]: */, "", rest)
    name = rest; sub(/\(.*/, "", name)
    if (mode == "none") {
      # A marker (its line has the arguments, finished or not).
      if (rest ~ /^write\(fd: (-1|4294967295),.*count: 1\)/) { inside = 1; ticks++; next }
      if (rest ~ /^write\(fd: (-1|4294967295),.*count: 2\)/) { inside = 0; next }
      if (name == "write" && rest !~ /^write\(fd: [0-9]/) next  # a marker [continued]
    }
    if ($0 ~ /\.\.\. *$/) next  # not finished yet: its [continued] line has the time
    ms = -1
    if (match($0, /\( *[0-9.]+ ms\)/)) ms = substr($0, RSTART + 1, RLENGTH - 4) + 0
    if (mode == "none") {
      if (!inside) next
    } else if (sleeping(name)) {
      next
    }
    calls++
    # The allocator growing its heap (page-table work, slow in a VM while another thread
    # maps memory too) is not a wait on I/O or on a lock: counted, not judged.
    if (name ~ /^(mmap|munmap|mprotect|mremap|brk|madvise)$/) {
      if (ms > 0.2) slow_memory++
    } else if (cannot_wait(name, rest)) {
      if (ms > 0.2) slow_nowait++
    } else if (ms > 0.2) {
      fail(sprintf("%.0f us inside a tick", ms * 1000))
    }
    prev[1] = prev[2]; prev[2] = rest
  }
  END {
    if (calls == 0) { print "perf traced no call of thread " tid " inside a tick"; bad++ }
    printf "perf trace, %s: %d calls inside ticks, %d ticks, %d over 200 us (and %d memory calls, %d that cannot wait)\n",
           mode, calls, ticks, bad, slow_memory, slow_nowait
    exit bad > 0
  }' "$dir/perf"
