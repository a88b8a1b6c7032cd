/* npc_loop: a game loop that embeds Artana Host (C11, no engine). At 60 Hz (absolute
 * deadlines, clock_nanosleep) it runs short npc.lua episodes for N NPCs, a new run each: the
 * native port "npc-brain" queues each decision and the game thread answers it 2-30 frames
 * later (the latency from the request's hash, as a busy model would); the NPC's steps are
 * native tools (move_to, say) answered at once. Each frame ticks the host with a budget and
 * measures how long the tick took. --reload-at FRAME:FILE hot-reloads npc.lua mid-game.
 *
 *   npc_loop [--npcs N] [--frames F] [--budget-us B] [--reload-at FRAME:FILE] [--script FILE]
 *            [--data-dir DIR] [--json]
 * --json prints {tick_p50_us, tick_p99_us, tick_max_us, frames_over_budget, episodes,
 * reload: {continued, drift_allowed, forked, halted_drift, halted_error, ended}} (ended: an
 * episode that ended before its restart's turn). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "artana/artana.h"

#define FRAME_NS 16666667L
#define MAX_PENDING 65536

typedef struct {
  artana_completion done;
  uint64_t due_frame;
  uint64_t hash;
} pending_call;

typedef struct {
  int npcs, frames, budget_us, reload_frame, json;
  const char *reload_file, *script_file, *data_dir;
} settings;

typedef struct {
  uint64_t frame;
  pending_call pending[MAX_PENDING];
  size_t pending_count;
  char* busy;        /* per NPC: an episode is running */
  int* episode;      /* per NPC: episodes started */
  artana_run** runs; /* per NPC: the handle of its current run */
  long episodes_done;
  long reload[ARTANA_RELOAD_SUSPENDED + 1]; /* by ARTANA_RELOAD_* */
} game;

static int usage(const char* problem) {
  fprintf(stderr,
          "npc_loop: %s\nusage: npc_loop [--npcs N] [--frames F] [--budget-us B] "
          "[--reload-at FRAME:FILE] [--script FILE] [--data-dir DIR] [--json]\n",
          problem);
  return 2;
}

static uint64_t fnv1a(const char* text, size_t len) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; ++i) h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
  return h;
}

/* The brain: remembered, answered 2-30 frames later by the game thread. */
static void brain(void* user, const artana_call* call, artana_completion done) {
  game* g = user;
  if (g->pending_count == MAX_PENDING) {
    artana_complete_error(done, ARTANA_FAIL_TRANSIENT, "the brain is overloaded");
    return;
  }
  const uint64_t h = fnv1a(call->json, call->len);
  pending_call* p = &g->pending[g->pending_count++];
  p->done = done;
  p->hash = h;
  p->due_frame = g->frame + 2 + h % 29;
}

static int npc_of(const artana_call* call) {
  const char* at = strstr(call->json, "\"npc\":");
  return at ? atoi(at + 6) : -1;
}

/* The NPC's hands: answered at once. */
static void act(void* user, const artana_call* call, artana_completion done) {
  (void)user;
  char answer[64];
  snprintf(answer, sizeof answer, "{\"ok\":true,\"npc\":%d}", npc_of(call));
  artana_complete_ok(done, answer, strlen(answer));
}

static void episode_done(void* user, const artana_call* call, artana_completion done) {
  game* g = user;
  const int npc = npc_of(call);
  artana_complete_ok(done, "{}", 2);
  if (npc >= 0) {
    g->busy[npc] = 0;
    g->episodes_done++;
  }
}

static void on_reload(void* user, const char* run_id, int outcome, const char* detail) {
  (void)run_id, (void)detail;
  game* g = user;
  if (outcome >= 1 && outcome <= ARTANA_RELOAD_SUSPENDED) g->reload[outcome]++;
}

static void answer_due(game* g) {
  size_t kept = 0;
  for (size_t i = 0; i < g->pending_count; ++i) {
    pending_call p = g->pending[i];
    if (p.due_frame > g->frame) {
      g->pending[kept++] = p;
      continue;
    }
    char answer[160];
    snprintf(answer, sizeof answer,
             "{\"output\":{\"steps\":%d,\"x\":%d,\"y\":%d,\"line\":\"hello %d\"},"
             "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9}}",
             (int)(1 + p.hash % 4), (int)(p.hash % 100), (int)(p.hash / 7 % 100),
             (int)(p.hash % 1000));
    artana_complete_ok(p.done, answer, strlen(answer)); /* refused if its run went: fine */
  }
  g->pending_count = kept;
}

static char* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* text = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
    free(text);
    text = NULL;
  }
  fclose(f);
  if (text) {
    text[n] = '\0';
    *len = (size_t)n;
  }
  return text;
}

static int compare_long(const void* a, const void* b) {
  const long x = *(const long*)a, y = *(const long*)b;
  return (x > y) - (x < y);
}

static long elapsed_us(const struct timespec* a, const struct timespec* b) {
  return (b->tv_sec - a->tv_sec) * 1000000L + (b->tv_nsec - a->tv_nsec) / 1000L;
}

static int parse(int argc, char** argv, settings* s) {
  for (int i = 1; i < argc; ++i) {
    const char* flag = argv[i];
    if (strcmp(flag, "--json") == 0) {
      s->json = 1;
      continue;
    }
    if (i + 1 >= argc) return usage("a flag is missing its value");
    const char* value = argv[++i];
    if (strcmp(flag, "--npcs") == 0) {
      s->npcs = atoi(value);
    } else if (strcmp(flag, "--frames") == 0) {
      s->frames = atoi(value);
    } else if (strcmp(flag, "--budget-us") == 0) {
      s->budget_us = atoi(value);
    } else if (strcmp(flag, "--script") == 0) {
      s->script_file = value;
    } else if (strcmp(flag, "--data-dir") == 0) {
      s->data_dir = value;
    } else if (strcmp(flag, "--reload-at") == 0) {
      const char* colon = strchr(value, ':');
      if (!colon) return usage("--reload-at takes FRAME:FILE");
      s->reload_frame = atoi(value);
      s->reload_file = colon + 1;
    } else {
      return usage(flag);
    }
  }
  if (s->npcs < 1 || s->npcs > 100000) return usage("--npcs must be 1..100000");
  if (s->frames < 1) return usage("--frames must be positive");
  if (s->budget_us < 1) return usage("--budget-us must be positive");
  return 0;
}

static int fail(const char* what) {
  fprintf(stderr, "npc_loop: %s: %s\n", what, artana_last_error());
  return 1;
}

int main(int argc, char** argv) {
  settings s = {1000, 600, 1000, -1, 0, NULL, "samples/embed/npc.lua", "./.artana"};
  if (parse(argc, argv, &s) != 0) return 2;
  game* g = calloc(1, sizeof(game));
  g->busy = calloc((size_t)s.npcs, 1);
  g->episode = calloc((size_t)s.npcs, sizeof(int));
  g->runs = calloc((size_t)s.npcs, sizeof(artana_run*));
  long* ticks = calloc((size_t)s.frames, sizeof(long));

  artana_options* options = NULL;
  artana_options_create(&options);
  if (artana_options_set(options, "data_dir", s.data_dir) != ARTANA_OK) return fail("--data-dir");
  artana_options_set(options, "durability", "none"); /* a game's NPCs: replayable, not precious */
  artana_host* host = NULL;
  if (artana_host_create(ARTANA_ABI_VERSION, options, &host) != ARTANA_OK) return fail("host");
  artana_options_destroy(options);
  artana_model_port_register(host, "npc-brain", brain, g);
  artana_tool_register(host,
                       "{\"name\":\"move_to\",\"args\":{\"type\":\"object\",\"required\":"
                       "[\"npc\",\"x\",\"y\"]}}",
                       act, g);
  artana_tool_register(host, "{\"name\":\"say\"}", act, g);
  artana_tool_register(host, "{\"name\":\"episode_done\"}", episode_done, g);
  /* Loaded from memory (recorded as mem:npc), so a reload gives the new text directly. */
  size_t script_len = 0;
  char* script_text = read_file(s.script_file, &script_len);
  if (!script_text) return usage("--script: the file cannot be read");
  artana_script* script = NULL;
  if (artana_script_load_memory(host, "npc", script_text, script_len, &script) != ARTANA_OK)
    return fail("--script");
  free(script_text);

  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  long over_budget = 0;
  for (int frame = 0; frame < s.frames; ++frame) {
    g->frame = (uint64_t)frame;
    answer_due(g);
    if (frame == s.reload_frame) {
      size_t len = 0;
      char* text = read_file(s.reload_file, &len);
      if (!text) return usage("--reload-at: the file cannot be read");
      const artana_status reloaded = artana_script_reload(script, text, len, on_reload, g);
      free(text);
      if (reloaded != ARTANA_OK) return fail("reload");
    }
    for (int npc = 0; npc < s.npcs; ++npc) {
      if (g->busy[npc]) continue;
      artana_run_release(g->runs[npc]);
      char input[64];
      snprintf(input, sizeof input, "{\"npc\":%d,\"episode\":%d}", npc, g->episode[npc]++);
      if (artana_run_start(host, script, input, NULL, &g->runs[npc]) != ARTANA_OK)
        return fail("start");
      g->busy[npc] = 1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    artana_tick_stats stats;
    if (artana_host_tick(host, s.budget_us, &stats) != ARTANA_OK) return fail("tick");
    clock_gettime(CLOCK_MONOTONIC, &end);
    ticks[frame] = elapsed_us(&start, &end);
    if (ticks[frame] > s.budget_us) over_budget++;
    next.tv_nsec += FRAME_NS;
    if (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
    }
  }
  qsort(ticks, (size_t)s.frames, sizeof(long), compare_long);
  const long p50 = ticks[s.frames / 2], p99 = ticks[(s.frames * 99) / 100],
             max = ticks[s.frames - 1];
  if (s.json) {
    printf(
        "{\"tick_p50_us\":%ld,\"tick_p99_us\":%ld,\"tick_max_us\":%ld,"
        "\"frames_over_budget\":%ld,\"episodes\":%ld,\"reload\":{\"continued\":%ld,"
        "\"drift_allowed\":%ld,\"forked\":%ld,\"halted_drift\":%ld,\"halted_error\":%ld,\"ended\":%"
        "ld}}\n",
        p50, p99, max, over_budget, g->episodes_done, g->reload[1], g->reload[2], g->reload[3],
        g->reload[4], g->reload[5], g->reload[6]);
  } else {
    printf(
        "%d NPCs, %d frames: %ld episodes; tick p50 %ld us, p99 %ld us, max %ld us; %ld "
        "frames over the %d us budget\n",
        s.npcs, s.frames, g->episodes_done, p50, p99, max, over_budget, s.budget_us);
  }
  artana_host_destroy(host);
  free(ticks);
  free(g->runs);
  free(g->episode);
  free(g->busy);
  free(g);
  return 0;
}
