// CurlLibrary: libcurl is loaded on first use, not linked, and works once loaded.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#include "curl_library.h"
#include "support/http_test_server.h"

using artana::io::CurlLibrary;
using artana::testing::HttpReply;
using artana::testing::HttpRequest;
using artana::testing::HttpTestServer;

namespace {

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

TEST_CASE("libcurl loads on first use and makes a request through the multi interface",
          "[io][curl]") {
  auto lib = CurlLibrary::get();
  REQUIRE(lib.ok());
  const CurlLibrary& curl = **lib;
  CHECK_FALSE(curl.version.empty());
  CHECK(curl.path.find("libcurl") != std::string::npos);
  CHECK(*CurlLibrary::get() == *lib);  // loaded once

  HttpTestServer server([](const HttpRequest&) { return HttpReply{200, {}, "hello"}; });
  CURL* easy = curl.easy_init();
  REQUIRE(easy != nullptr);
  std::string body;
  const std::string url = server.url("/v1/ping");
  CHECK(curl.easy_setopt(easy, CURLOPT_URL, url.c_str()) == CURLE_OK);
  CHECK(curl.easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect) == CURLE_OK);
  CHECK(curl.easy_setopt(easy, CURLOPT_WRITEDATA, &body) == CURLE_OK);
  CURLM* multi = curl.multi_init();
  REQUIRE(multi != nullptr);
  REQUIRE(curl.multi_add_handle(multi, easy) == CURLM_OK);
  int running = 1;
  while (running > 0) {
    REQUIRE(curl.multi_perform(multi, &running) == CURLM_OK);
    if (running > 0) REQUIRE(curl.multi_poll(multi, nullptr, 0, 1000, nullptr) == CURLM_OK);
  }
  int left = 0;
  CURLMsg* done = curl.multi_info_read(multi, &left);
  REQUIRE(done != nullptr);
  CHECK(done->data.result == CURLE_OK);
  long status = 0;
  CHECK(curl.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK);
  CHECK(status == 200);
  CHECK(body == "hello");
  CHECK(curl.multi_remove_handle(multi, easy) == CURLM_OK);
  curl.easy_cleanup(easy);
  CHECK(curl.multi_cleanup(multi) == CURLM_OK);
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].method == "GET");
  CHECK(server.requests()[0].target == "/v1/ping");
  CHECK_THAT(curl.easy_strerror(CURLE_COULDNT_CONNECT), Catch::Contains("connect"));
}

TEST_CASE("the artana binary does not link libcurl (a start does not pay for it)", "[io][curl]") {
  // readelf comes with binutils, which the compiler needs.
  FILE* readelf = popen("readelf --dynamic '" ARTANA_CLI "'", "r");
  REQUIRE(readelf != nullptr);
  std::string needed;
  char line[512];
  while (fgets(line, sizeof line, readelf) != nullptr) {
    if (std::strstr(line, "(NEEDED)") != nullptr) needed += line;
  }
  CHECK(pclose(readelf) == 0);
  INFO(needed);
  CHECK_THAT(needed, Catch::Contains("libc.so"));
  CHECK_THAT(needed, !Catch::Contains("libcurl"));
}
