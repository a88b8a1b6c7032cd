/* An application of the installed package (tests/package/package_test.sh): built out of
 * tree with find_package(artana) or pkg-config, it runs a script that needs the stdlib
 * (found beside the library, or where the package says when linked statically) and checks
 * the output. Exit 0 on success; the failing call's error otherwise. */
#include <stdio.h>
#include <string.h>

#include <artana/artana.h>

static int failed(const char* what) {
  fprintf(stderr, "consumer: %s: %s\n", what, artana_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: consumer DATA_DIR [STDLIB_DIR]\n");
    return 2;
  }
  artana_options* options = NULL;
  if (artana_options_create(&options) != ARTANA_OK) return failed("options");
  if (artana_options_set(options, "data_dir", argv[1]) != ARTANA_OK) return failed("data_dir");
  if (artana_options_set(options, "durability", "none") != ARTANA_OK) return failed("durability");
  if (argc > 2 && artana_options_set(options, "stdlib_dir", argv[2]) != ARTANA_OK)
    return failed("stdlib_dir");
  artana_host* host = NULL;
  artana_status created = artana_host_create(ARTANA_ABI_VERSION, options, &host);
  artana_options_destroy(options);
  if (created != ARTANA_OK) return failed("host");
  const char* source =
      "local harness = require 'artana.harness'\n"
      "return function(run, input)\n"
      "  return { harness = type(harness), n = input.n + 1 }\n"
      "end\n";
  artana_script* script = NULL;
  if (artana_script_load_memory(host, "consumer", source, strlen(source), &script) != ARTANA_OK)
    return failed("load");
  artana_run* run = NULL;
  if (artana_run_start(host, script, "{\"n\":41}", NULL, &run) != ARTANA_OK) return failed("start");
  if (artana_host_run_until_idle(host, 30000) != ARTANA_OK) return failed("run_until_idle");
  char* output = NULL;
  if (artana_run_output(run, &output, NULL) != ARTANA_OK) {
    char* error = NULL;
    artana_run_error(run, &error, NULL);
    fprintf(stderr, "consumer: the run did not complete: %s\n", error ? error : "?");
    artana_free(error);
    return 1;
  }
  const int ok = strcmp(output, "{\"harness\":\"table\",\"n\":42}") == 0;
  printf("%s\n", output);
  artana_free(output);
  artana_host_destroy(host);
  return ok ? 0 : 1;
}
