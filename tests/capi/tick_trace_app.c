/* The application tests/capi/tick_trace_test.sh traces with strace: runs that call a
 * side-effecting native tool and a native model port another thread answers two seconds
 * later, on a ledger with durability `full`, ticked from the main thread (`none`) or by the
 * host's worker (`worker`).
 *
 *   tick_trace_app DATA_DIR none|worker RUNS
 *
 * In `none` mode every tick is framed by two markers the trace shows, write(-1, "B", 1) and
 * write(-1, "EE", 2) (each fails with EBADF and does nothing else), so the test can tell the
 * tick's system calls from the application's own sleeping. Prints "ticking thread TID" (the
 * main thread, or the worker's: the thread the tool callback runs on) and exits 0 once every
 * run completed with its outputs and every side effect happened once (the stamps are
 * counted in memory: no file I/O of the test's own runs on the ticking thread). */
#define _GNU_SOURCE

#include <artana/artana.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kMaxRuns = 64, kAnswerAfterMs = 2000, kTimeoutMs = 60000 };

static const char kScript[] =
    "return function(run, input)\n"
    "  for i = 1, 3 do run:tool('stamp', { run = input.k, n = i }) end\n"
    "  local answer = run:model { model = 'slow-brain', prompt = 'go ' .. input.k }\n"
    "  local t = run:now()\n"
    "  run:tool('stamp', { run = input.k, n = 4 })\n"
    "  return { answer = answer.output.text, k = input.k, timed = t > 0 }\n"
    "end\n";

static const char kStampSpec[] =
    "{\"name\":\"stamp\",\"description\":\"appends a line to the stamp file\","
    "\"args\":{\"type\":\"object\",\"properties\":{\"run\":{\"type\":\"integer\"},"
    "\"n\":{\"type\":\"integer\"}},\"required\":[\"run\",\"n\"]},\"side_effect\":true}";

static volatile long ticking_tid = 0;
/* The side effects: stamps[run][n], counted where the tool runs (on the ticking thread, so
 * no file I/O of the test's own is traced there). */
static int stamps[kMaxRuns][5];

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The side effect. Called on the ticking thread: `call->json` is {"n":N,"run":R}. */
static void stamp(void* user, const artana_call* call, artana_completion done) {
  (void)user;
  if (ticking_tid == 0) ticking_tid = syscall(SYS_gettid);
  int run = -1, n = -1;
  const char* at = strstr(call->json, "\"n\":");
  if (at != NULL) n = atoi(at + 4);
  at = strstr(call->json, "\"run\":");
  if (at != NULL) run = atoi(at + 6);
  if (run >= 0 && run < kMaxRuns && n >= 1 && n <= 4) ++stamps[run][n];
  artana_complete_ok(done, "{\"stamped\":true}", 16);
}

/* The model port: requests queue here; the answerer thread completes each 2 s after it came. */
static pthread_mutex_t queue_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cv = PTHREAD_COND_INITIALIZER;
static artana_completion queued[kMaxRuns * 4];
static long queued_at[kMaxRuns * 4];
static int queued_n = 0, answered_n = 0, stopping = 0;

static void brain(void* user, const artana_call* call, artana_completion done) {
  (void)user, (void)call;
  pthread_mutex_lock(&queue_mu);
  if (queued_n < kMaxRuns * 4) {
    queued_at[queued_n] = now_ms();
    queued[queued_n++] = done;
  }
  pthread_cond_signal(&queue_cv);
  pthread_mutex_unlock(&queue_mu);
}

static void* answerer(void* arg) {
  (void)arg;
  pthread_mutex_lock(&queue_mu);
  for (;;) {
    while (!stopping && answered_n == queued_n) pthread_cond_wait(&queue_cv, &queue_mu);
    if (stopping) break;
    const artana_completion done = queued[answered_n];
    const long due = queued_at[answered_n] + kAnswerAfterMs;
    ++answered_n;
    pthread_mutex_unlock(&queue_mu);
    const long wait = due - now_ms();
    if (wait > 0) sleep_ms(wait);
    static const char kAnswer[] = "{\"output\":{\"text\":\"answered\"}}";
    if (artana_complete_ok(done, kAnswer, sizeof kAnswer - 1) != ARTANA_OK)
      fprintf(stderr, "complete: %s\n", artana_last_error());
    pthread_mutex_lock(&queue_mu);
  }
  pthread_mutex_unlock(&queue_mu);
  return NULL;
}

static int all_completed(artana_run** runs, int n) {
  for (int i = 0; i < n; ++i) {
    const char* status = NULL;
    if (artana_run_status(runs[i], &status) != ARTANA_OK || strcmp(status, "completed") != 0)
      return 0;
  }
  return 1;
}

static int fail(const char* what) {
  fprintf(stderr, "tick_trace_app: %s: %s\n", what, artana_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4 || (strcmp(argv[2], "none") != 0 && strcmp(argv[2], "worker") != 0)) {
    fprintf(stderr, "usage: tick_trace_app DATA_DIR none|worker RUNS\n");
    return 2;
  }
  const int worker = strcmp(argv[2], "worker") == 0;
  const int n = atoi(argv[3]);
  if (n < 1 || n > kMaxRuns) return 2;

  artana_options* options = NULL;
  artana_host* host = NULL;
  if (artana_options_create(&options) != ARTANA_OK ||
      artana_options_set(options, "data_dir", argv[1]) != ARTANA_OK ||
      artana_options_set(options, "durability", "full") != ARTANA_OK ||
      artana_options_set(options, "threads", argv[2]) != ARTANA_OK ||
      artana_host_create(ARTANA_ABI_VERSION, options, &host) != ARTANA_OK)
    return fail("host");
  artana_options_destroy(options);
  artana_script* script = NULL;
  if (artana_tool_register(host, kStampSpec, stamp, NULL) != ARTANA_OK) return fail("tool");
  if (artana_model_port_register(host, "slow-brain", brain, NULL) != ARTANA_OK) return fail("port");
  if (artana_script_load_memory(host, "traced", kScript, strlen(kScript), &script) != ARTANA_OK)
    return fail("script");
  pthread_t answering;
  pthread_create(&answering, NULL, answerer, NULL);

  artana_run* runs[kMaxRuns];
  for (int i = 0; i < n; ++i) {
    char input[64];
    snprintf(input, sizeof input, "{\"k\":%d}", i);
    if (artana_run_start(host, script, input, NULL, &runs[i]) != ARTANA_OK) return fail("start");
  }
  const long deadline = now_ms() + kTimeoutMs;
  if (!worker) ticking_tid = syscall(SYS_gettid);
  while (!all_completed(runs, n) && now_ms() < deadline) {
    if (worker) {
      /* Seldom: each look takes the host's lock, and a thread woken on two cores can take
       * the worker's CPU in the middle of a tick. */
      sleep_ms(50);
      continue;
    }
    artana_tick_stats stats;
    (void)!write(-1, "B", 1);
    const artana_status ticked = artana_host_tick(host, 1000, &stats);
    (void)!write(-1, "EE", 2);
    if (ticked != ARTANA_OK) return fail("tick");
    if (stats.ready == 0) sleep_ms(1);
  }

  int failures = 0;
  for (int i = 0; i < n; ++i) {
    char* output = NULL;
    size_t len = 0;
    char want[128];
    snprintf(want, sizeof want, "{\"answer\":\"answered\",\"k\":%d,\"timed\":true}", i);
    if (artana_run_output(runs[i], &output, &len) != ARTANA_OK || output == NULL ||
        strcmp(output, want) != 0) {
      fprintf(stderr, "run %d: output %s, want %s\n", i, output ? output : "(none)", want);
      ++failures;
    }
    artana_free(output);
    artana_run_release(runs[i]);
  }
  /* Each of the 4 stamps of each run exactly once. */
  for (int i = 0; i < n; ++i) {
    for (int k = 1; k <= 4; ++k) {
      if (stamps[i][k] != 1) {
        fprintf(stderr, "run %d stamp %d made %d times\n", i, k, stamps[i][k]);
        ++failures;
      }
    }
  }
  pthread_mutex_lock(&queue_mu);
  stopping = 1;
  pthread_cond_signal(&queue_cv);
  pthread_mutex_unlock(&queue_mu);
  pthread_join(answering, NULL);
  artana_script_unload(script);
  artana_host_destroy(host);
  printf("ticking thread %ld\n", ticking_tid);
  return failures == 0 ? 0 : 1;
}
