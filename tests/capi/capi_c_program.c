/* A C11 application of the C API, as one embeds it: artana.h alone, a ledger in a new
 * directory, a script from memory run to its output, everything released. Exit 0 when every
 * check holds; each failure is printed with the library's last error. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include <artana/artana.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                                           \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #cond, \
              artana_last_error());                                                           \
      ++failures;                                                                             \
    }                                                                                         \
  } while (0)

static const char kScript[] =
    "return function(run, input)\n"
    "  return { greeting = 'hello ' .. input.name, n = input.n * 2 }\n"
    "end\n";

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int main(void) {
  char dir[] = "/tmp/artana-capi-c-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  artana_options* options = NULL;
  CHECK(artana_options_create(&options) == ARTANA_OK);
  CHECK(artana_options_set(options, "data_dir", dir) == ARTANA_OK);
  CHECK(artana_options_set(options, "durability", "none") == ARTANA_OK);
  CHECK(artana_options_set(options, "colour", "blue") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(strstr(artana_last_error(), "colour") != NULL);

  artana_host* host = NULL;
  CHECK(artana_host_create(ARTANA_ABI_VERSION + 1, options, &host) == ARTANA_E_ABI);
  CHECK(host == NULL);
  CHECK(artana_host_create(ARTANA_ABI_VERSION, options, &host) == ARTANA_OK);
  artana_options_destroy(options);
  if (host == NULL) return 1;

  artana_script* script = NULL;
  CHECK(artana_script_load_memory(host, "greet", kScript, strlen(kScript), &script) == ARTANA_OK);
  artana_run* run = NULL;
  CHECK(artana_run_start(host, script, "{\"name\":\"world\",\"n\":21}", "{\"run_id\":\"c-run\"}",
                         &run) == ARTANA_OK);
  CHECK(artana_host_run_until_idle(host, 30000) == ARTANA_OK);
  const char* status = NULL;
  CHECK(artana_run_status(run, &status) == ARTANA_OK);
  CHECK(status != NULL && strcmp(status, "completed") == 0);
  char* output = NULL;
  size_t len = 0;
  CHECK(artana_run_output(run, &output, &len) == ARTANA_OK);
  CHECK(output != NULL && strcmp(output, "{\"greeting\":\"hello world\",\"n\":42}") == 0);
  CHECK(output != NULL && len == strlen(output));
  artana_free(output);
  CHECK(strcmp(artana_run_id(run), "c-run") == 0);
  artana_run_release(run);
  CHECK(artana_script_unload(script) == ARTANA_OK);
  artana_host_destroy(host);

  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (failures != 0) fprintf(stderr, "%d checks failed\n", failures);
  return failures == 0 ? 0 : 1;
}
