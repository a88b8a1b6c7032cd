/* artana.h: the C API of Artana Host (libartana). An application opens a ledger, loads Lua
 * scripts, starts durable runs of them and drives them from its own loop with
 * artana_host_tick(). docs/embedding.md explains how it works; this header is the contract.
 *
 * Conventions, for every function:
 * - Functions return artana_status unless shown otherwise. On an error,
 *   artana_last_error() names the function and what was wrong (the argument, the run, the
 *   step) until this thread's next call into the library.
 * - Strings in are UTF-8, NUL-terminated unless a length goes with them, and copied: the
 *   caller may free them when the call returns. Strings out are borrowed (valid as stated
 *   beside the function) or, where said, owned by the caller and freed with artana_free().
 * - Nothing unwinds or longjmps out of the library: every entry catches everything
 *   (ARTANA_E_INTERNAL).
 * - One thread drives a host (every call taking an artana_host, artana_script or
 *   artana_run); different hosts may be driven from different threads. With threads=worker
 *   a thread of the host's own ticks it: any thread may then call (the calls are serialized,
 *   each waiting at most for the tick in progress), and every callback runs on the worker.
 *   artana_complete_ok/_error may be called from any thread in either mode.
 * Includes only <stddef.h> and <stdint.h>. */
#ifndef ARTANA_ARTANA_H
#define ARTANA_ARTANA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ARTANA_API __attribute__((visibility("default")))
#else
#define ARTANA_API
#endif

/* The ABI major this header describes: artana_host_create() refuses another. */
#define ARTANA_ABI_VERSION 1

typedef struct artana_options artana_options;
typedef struct artana_host artana_host;
typedef struct artana_script artana_script;
typedef struct artana_run artana_run;
typedef struct artana_event artana_event;

typedef enum {
  ARTANA_OK,
  ARTANA_E_INVALID_ARGUMENT, /* a NULL, malformed or unknown argument */
  ARTANA_E_NOT_FOUND,        /* no such run, script or file */
  ARTANA_E_STATE,            /* not now: the object is not in a state that allows the call */
  ARTANA_E_SCRIPT,           /* a script does not compile (name:line in the message) */
  ARTANA_E_DENIED,           /* a capability or policy refused it */
  ARTANA_E_BUDGET,           /* a budget was exceeded */
  ARTANA_E_DRIFT,            /* a replay met a step recorded with another request */
  ARTANA_E_STORAGE,          /* the ledger cannot be opened, read or written */
  ARTANA_E_ABI,              /* the library's ABI major is not the caller's */
  ARTANA_E_CANCELLED,        /* the run was cancelled */
  ARTANA_E_INTERNAL          /* a fault of the library: please report it */
} artana_status;

/* A native call's completion: a token, never reused in the process. */
typedef uint64_t artana_completion;

/* How a native tool or port failed (artana_complete_error). */
typedef enum {
  ARTANA_FAIL_TRANSIENT = 1, /* nothing happened; worth trying again later */
  ARTANA_FAIL_PERMANENT,     /* nothing happened; it failed */
  ARTANA_FAIL_TIMEOUT        /* no answer in time: a side effect may or may not have happened */
} artana_failure;

/* What a native tool or port is asked. Borrowed for the callback's duration. */
typedef struct {
  const char* json; /* tool: its arguments; port: the request {model, prompt | messages,
                       schema, tools, options, step_key, run_id} (canonical JSON) */
  size_t len;
  const char *run_id, *tenant, *step_key;
  const char* idempotency_key; /* a tool's (SHA-256 hex of run, tool, step); a port's: "" */
} artana_call;

/* Called on the ticking thread when a live step needs the application: answer with
 * artana_complete_ok/_error(done, ...) now or later, from any thread. */
typedef void (*artana_call_fn)(void* user, const artana_call* call, artana_completion done);

/* How a run's replay under reloaded code went (artana_reload_fn's `outcome`). */
enum {
  ARTANA_RELOAD_CONTINUED = 1, /* the new code replayed the run's history as recorded */
  ARTANA_RELOAD_DRIFT_ALLOWED, /* a step's request changed; the run's policy allowed it */
  ARTANA_RELOAD_FORKED,        /* a step's request changed; the run went on in a fork */
  ARTANA_RELOAD_HALTED_DRIFT,  /* a step's request changed; the run needs attention */
  ARTANA_RELOAD_HALTED_ERROR,  /* the new code raised; the run needs attention or failed */
  ARTANA_RELOAD_ENDED,         /* it ended under its old code (completed, failed, cancelled) before
                                  its restart's turn: nothing was replayed */
  ARTANA_RELOAD_SUSPENDED      /* its script was unloaded before it replayed: it waits suspended
                                  and executes the text loaded next */
};

/* Told once per reloaded run, on the ticking thread, when it has replayed its history
 * under the new code. `detail_json` (borrowed for the call): {} when continued; {step_key,
 * drift_fields} for an allowed drift; {fork_run_id} for a fork; the run's error {kind,
 * message, step_key, ...} when halted; {status} when it ended before its restart; {} when
 * suspended. Every run the reload counted is told, so an application can wait for them all. */
typedef void (*artana_reload_fn)(void* user, const char* run_id, int outcome,
                                 const char* detail_json);

typedef struct {
  uint64_t resumed;       /* task resumptions this tick */
  uint64_t ready;         /* runs with work ready when the tick returned: tick again soon */
  int64_t next_wakeup_us; /* the earliest durable timer (µs since the epoch), or -1: none */
} artana_tick_stats;

/* ---- errors and memory ---- */

/* What the last failed call on this thread was about ("" when it succeeded). Borrowed until
 * this thread's next call into the library. */
ARTANA_API const char* artana_last_error(void);
/* Frees what the library handed over as the caller's (artana_run_output, artana_run_error).
 * NULL is ignored. */
ARTANA_API void artana_free(void* p);

/* ---- options ---- */

ARTANA_API artana_status artana_options_create(artana_options** out);
ARTANA_API void artana_options_destroy(artana_options* options);
/* Sets one option; an unknown key or a bad value is refused, naming it:
 *   data_dir          the ledger directory (default: $ARTANA_HOME, else ./.artana)
 *   durability        full | effects (default) | none
 *   policy            permissive (default) | enforced
 *   max_memory_mb     a run's Lua memory, MiB (default 256)
 *   max_instructions  a run's Lua instructions per execution (default 1000000000)
 *   threads           none (default): the application ticks | worker: the host ticks itself
 *   stdlib_dir        the directory of the artana.* modules ("" for none)
 *   http_allow        hosts run:http may reach: "host[:port],..." (default: none)
 *   secret_env        environment variables a run:http header may read: "NAME,..."
 *   workspace         the directory run:exec programs run in, an existing one (default:
 *                     run:exec refused)
 *   models            a file of model endpoints for live model steps no port takes (Lua
 *                     returning a table, as `artana run --models`; read when set) */
ARTANA_API artana_status artana_options_set(artana_options* options, const char* key,
                                            const char* value);

/* ---- the host ---- */

/* Opens the ledger and makes a host. `abi_version`: ARTANA_ABI_VERSION as the caller was
 * compiled with. `options` may be NULL (every default) and is not kept. */
ARTANA_API artana_status artana_host_create(int abi_version, const artana_options* options,
                                            artana_host** out);
/* Stops every run where it stands (each is executed again, replaying, by the next host that
 * starts it) and closes the ledger. Scripts and runs of the host must not be used after.
 * NULL is ignored. */
ARTANA_API void artana_host_destroy(artana_host* host);
/* Runs ready work (coroutines, timers, starts, replays) for about `budget_us` µs and
 * returns; `stats` may be NULL. ARTANA_E_STATE with threads=worker (the host ticks itself)
 * and inside a callback. */
ARTANA_API artana_status artana_host_tick(artana_host* host, int64_t budget_us,
                                          artana_tick_stats* stats);
/* Ticks until nothing is ready and no call is outstanding, or `timeout_ms` passes
 * (ARTANA_E_STATE then; a negative timeout waits without a limit). With threads=worker it
 * waits for the worker to find nothing to do. */
ARTANA_API artana_status artana_host_run_until_idle(artana_host* host, int64_t timeout_ms);

/* ---- native tools and model ports ---- */

/* Registers a tool every run started from now on can call (run:tool). `spec_json`:
 *   {"name": "move_to", "description": "...", "args": {JSON Schema of the arguments},
 *    "version": "1", "capability": "", "side_effect": false}
 * (name required; an unknown key is named). A script's tool of the same name makes its run
 * fail to start. `fn` is called for each live step with `user`; a recorded step replays
 * without calling it. */
ARTANA_API artana_status artana_tool_register(artana_host* host, const char* spec_json,
                                              artana_call_fn fn, void* user);
/* Registers a model port for a model name, or for every model starting with a prefix
 * (`name_or_prefix` ending in '*'; the longest prefix wins). A live model step goes to a Lua
 * port of its exact name first, then to these. Complete with the Lua port's shape:
 *   {"output": ..., "usage": {...}, "tool_calls": [{"id", "name", "arguments"}]} */
ARTANA_API artana_status artana_model_port_register(artana_host* host, const char* name_or_prefix,
                                                    artana_call_fn fn, void* user);
/* Completes a native call with its result (JSON text, `len` bytes; a tool's result, a port's
 * answer). Once per completion, from any thread: a second is ARTANA_E_STATE; after its run
 * was cancelled or stopped here, or its host destroyed, ARTANA_E_CANCELLED (nothing is
 * recorded). JSON that does not parse is ARTANA_E_INVALID_ARGUMENT and completes nothing. */
ARTANA_API artana_status artana_complete_ok(artana_completion done, const char* json, size_t len);
/* Completes a native call with a failure (`message` may be NULL). Same rules. */
ARTANA_API artana_status artana_complete_error(artana_completion done, artana_failure failure,
                                               const char* message);

/* ---- events ---- */

/* What an event callback hears (a bit mask of them selects what it hears). */
enum {
  ARTANA_EVENT_STATUS = 1, /* a run's status changed: {kind, run_id, seq, type, status} */
  ARTANA_EVENT_STEP = 2,   /* a step was recorded: {kind, run_id, seq, type, step_key} */
  ARTANA_EVENT_DRIFT = 4,  /* a replay allowed a changed step: {..., step_key, drift_fields} */
  ARTANA_EVENT_FORK = 8,   /* a replay went on in a fork: {..., step_key, fork_run_id} */
  ARTANA_EVENT_LOG = 16,   /* a script printed a line: {kind, run_id, line} */
  ARTANA_EVENT_ALL = 31
};
/* Called on the ticking thread, at the end of artana_host_tick (and of each tick of
 * artana_host_run_until_idle), once per event in the order they happened. It may call
 * anything but artana_host_tick, _run_until_idle and _destroy (ARTANA_E_STATE). */
typedef void (*artana_event_fn)(void* user, const artana_event* event);
/* Sets the host's event callback (one; a new one replaces it). `mask`: ARTANA_EVENT_* bits;
 * 0 or a NULL `fn` stops the events. Without a callback hearing ARTANA_EVENT_LOG, printed
 * lines go to the library's log. */
ARTANA_API artana_status artana_host_set_event_callback(artana_host* host, unsigned mask,
                                                        artana_event_fn fn, void* user);

/* ---- the library's log ---- */

/* A log line's level. */
enum { ARTANA_LOG_DEBUG = 1, ARTANA_LOG_INFO, ARTANA_LOG_WARN, ARTANA_LOG_ERROR };
/* Hears one line (`message` borrowed for the call; no newline). Called on the thread that
 * logged it: the ticking thread (the worker's, with threads=worker) or an entry's caller for a
 * line about this host, a thread of the library's own (commits, I/O) for a line about no one
 * host, which every host with a log function hears. It may call anything but
 * artana_host_tick, _run_until_idle and _destroy of a host, as any callback. */
typedef void (*artana_log_fn)(void* user, int level, const char* message);
/* Sends the library's log lines about this host — halts, forks, lost leases, a failing
 * commit, and a script's print lines when no event callback hears ARTANA_EVENT_LOG — to `fn`,
 * those at `min_level` (an ARTANA_LOG_* value) or above. A NULL `fn` goes back to the
 * default: every line on stderr. */
ARTANA_API artana_status artana_host_set_log(artana_host* host, int min_level, artana_log_fn fn,
                                             void* user);

/* ---- the application's modules ---- */

/* Gives the source of module `name` (`require "ai.brain"` asks for "ai.brain"): return 1 with
 * `*src` and `*len` set (the library copies it at once: it stays the application's), 0 when
 * the application has no module by that name, or -1 when it could not be read (`*src`, when
 * set, a NUL-terminated message the require's error quotes). Called on the ticking thread
 * (the worker's, with threads=worker), under the same rules as any callback. */
typedef int (*artana_module_fn)(void* user, const char* name, const char** src, size_t* len);
/* Makes `fn` the host's module loader (a game's archives): it is asked first for every
 * module a script requires that is not artana.* (a script loaded from a file looks in its
 * folder next). What it returns is recorded in the ledger like a file's source, so a run
 * replays, and --pinned executes, the code it first ran. A NULL `fn` removes it. */
ARTANA_API artana_status artana_host_set_module_loader(artana_host* host, artana_module_fn fn,
                                                       void* user);

/* ---- the host's clock ---- */

/* The application's time, µs since the Unix epoch as it counts them (a game's clock, paused
 * with the game): what run:now() records and what run:sleep() waits on. Called on the
 * ticking thread (the worker's, with threads=worker). */
typedef int64_t (*artana_clock_fn)(void* user);
/* Sets the host's clock; a NULL `fn` goes back to the system clock. Only before the first
 * run starts here (ARTANA_E_STATE after: the timers already set count in the old clock). */
ARTANA_API artana_status artana_host_set_clock(artana_host* host, artana_clock_fn fn, void* user);
/* The event's ARTANA_EVENT_* bit. */
ARTANA_API int artana_event_kind(const artana_event* event);
/* The event as JSON (NUL-terminated; its length in `*len` unless NULL). Borrowed for the
 * callback's duration. */
ARTANA_API const char* artana_event_json(const artana_event* event, size_t* len);

/* ---- scripts ---- */

/* Loads a script from memory as `mem:<name>` (its source is recorded in the ledger like a
 * file's). A name is 1..200 bytes of letters, digits, '_', '-', '.' and '/'. A source that
 * does not compile is ARTANA_E_SCRIPT naming name:line; a name already loaded,
 * ARTANA_E_STATE. A script from memory may require only the artana.* modules and the
 * application's (artana_host_set_module_loader). */
ARTANA_API artana_status artana_script_load_memory(artana_host* host, const char* name,
                                                   const char* src, size_t len,
                                                   artana_script** out);
/* Loads the script at `path` (its modules are read next to it, as `artana run` reads them). */
ARTANA_API artana_status artana_script_load_file(artana_host* host, const char* path,
                                                 artana_script** out);
/* Hot reload of a script from memory: `src` is compiled first (ARTANA_E_SCRIPT, nothing
 * changed, when it does not compile); then every run of the script held by this host
 * executes again under the new code at the next ticks, replaying its history under its
 * replay policy, and `fn` (may be NULL) hears once per run how that went. Native calls in
 * flight are kept: each is recorded when it completes and the new execution adopts it (no
 * second call). */
ARTANA_API artana_status artana_script_reload(artana_script* script, const char* src, size_t len,
                                              artana_reload_fn fn, void* user);
/* The same for a script loaded from a file: its file (and modules) are read again. */
ARTANA_API artana_status artana_script_reload_file(artana_script* script, artana_reload_fn fn,
                                                   void* user);
/* Unloads the script: its runs stop executing here without losing work (their native calls
 * in flight are recorded as they complete), and starting new ones needs it loaded again.
 * Loading a script of the same name (or file) again executes its runs again: they replay
 * what was recorded and go on. NULL is ignored. */
ARTANA_API artana_status artana_script_unload(artana_script* script);

/* ---- runs ---- */

/* Starts a run of `script` with `input_json` (NULL: {}). `options_json` (NULL: {}) takes
 *   {"run_id": "...", "tenant": "...", "caps": ["..."], "budget_usd": 1.5,
 *    "replay": "strict" | "allow_prompt_drift" | "fork_on_drift", "seed": 42}
 * (an unknown key is named). An existing run_id is executed again, replaying what it
 * recorded, as `artana run` does. The work happens in artana_host_tick(). */
ARTANA_API artana_status artana_run_start(artana_host* host, artana_script* script,
                                          const char* input_json, const char* options_json,
                                          artana_run** out);
/* A handle on a run of the ledger, without executing it. */
ARTANA_API artana_status artana_run_open(artana_host* host, const char* run_id, artana_run** out);
/* The run's id. Borrowed for the handle's life. */
ARTANA_API const char* artana_run_id(artana_run* run);
/* The run's status, as `artana status` names it: running, paused, sleeping, needs_attention,
 * completed, failed, cancelled. Borrowed until the next call on `run`. */
ARTANA_API artana_status artana_run_status(artana_run* run, const char** status);
/* The completed run's output as JSON; ARTANA_E_STATE when it has not completed. `*json` is
 * the caller's (artana_free); `len` may be NULL. */
ARTANA_API artana_status artana_run_output(artana_run* run, char** json, size_t* len);
/* Why the run stopped, as JSON {kind, message, step_key, where, traceback}; "null" when it
 * has no error. `*json` is the caller's (artana_free); `len` may be NULL. */
ARTANA_API artana_status artana_run_error(artana_run* run, char** json, size_t* len);
/* Gives a paused run its input (JSON; NULL: null) and lets it go on at the next ticks. */
ARTANA_API artana_status artana_run_resume(artana_run* run, const char* input_json);
/* Cancels the run (recorded; `reason` may be NULL). When it executes in this host it stops
 * now: its outstanding native calls are cancelled. */
ARTANA_API artana_status artana_run_cancel(artana_run* run, const char* reason);
/* Frees the handle (not the run). NULL is ignored. */
ARTANA_API void artana_run_release(artana_run* run);

#ifdef __cplusplus
}
#endif

#endif /* ARTANA_ARTANA_H */
