// CurlLibrary: libcurl is loaded on first use, not linked, and works once loaded; and
// HttpTestServer (tests/support/), the server the outside-world tests talk to, checked
// through it: logged requests, keep-alive, streamed and cut-off answers.
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

struct Fetched {
  CURLcode result = CURLE_OK;
  long status = 0;
  std::string body, headers;
};

// One request on `easy` (reused: the connection is kept alive between calls).
Fetched fetch(const CurlLibrary& curl, CURL* easy, const std::string& url,
              const std::string& post_body = {}) {
  Fetched out;
  curl.easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl.easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
  curl.easy_setopt(easy, CURLOPT_WRITEDATA, &out.body);
  curl.easy_setopt(easy, CURLOPT_HEADERFUNCTION, collect);
  curl.easy_setopt(easy, CURLOPT_HEADERDATA, &out.headers);
  if (!post_body.empty()) {
    curl.easy_setopt(easy, CURLOPT_POSTFIELDS, post_body.c_str());
    curl.easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body.size()));
  } else {
    curl.easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  out.result = curl.easy_perform(easy);
  curl.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
  return out;
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

TEST_CASE("the test server logs each request and answers as its handler says",
          "[io][test_server]") {
  auto lib = CurlLibrary::get();
  REQUIRE(lib.ok());
  const CurlLibrary& curl = **lib;
  HttpTestServer server([](const HttpRequest& request) {
    if (request.target == "/busy") return HttpReply{429, {{"Retry-After", "2"}}, "slow down"};
    if (request.target == "/sse") {
      HttpReply reply;
      reply.headers = {{"Content-Type", "text/event-stream"}};
      reply.stream = {{0, "data: one\n\n"}, {5, "data: t"}, {5, "wo\n\n"}};
      return reply;
    }
    if (request.target == "/cut") {
      HttpReply reply{200, {}, std::string(1000, 'x')};
      reply.cut_after_bytes = 100;
      return reply;
    }
    return HttpReply{200, {}, "echo:" + request.body};
  });
  CURL* easy = curl.easy_init();
  REQUIRE(easy != nullptr);
  curl_slist* headers = curl.slist_append(nullptr, "Authorization: Bearer test-key");
  curl.easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  Fetched posted = fetch(curl, easy, server.url("/v1/chat/completions"), "{\"a\":1}");
  CHECK(posted.result == CURLE_OK);
  CHECK(posted.status == 200);
  CHECK(posted.body == "echo:{\"a\":1}");
  Fetched busy = fetch(curl, easy, server.url("/busy"));
  CHECK(busy.status == 429);
  CHECK_THAT(busy.headers, Catch::Contains("Retry-After: 2"));
  Fetched streamed = fetch(curl, easy, server.url("/sse"));
  CHECK(streamed.result == CURLE_OK);
  CHECK(streamed.body == "data: one\n\ndata: two\n\n");
  Fetched cut = fetch(curl, easy, server.url("/cut"));
  CHECK(cut.result != CURLE_OK);  // the body ended short of its Content-Length
  CHECK(cut.body.size() == 100);

  const auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/v1/chat/completions");
  CHECK(requests[0].body == "{\"a\":1}");
  CHECK(requests[0].header("authorization") == "Bearer test-key");
  CHECK(requests[1].method == "GET");
  CHECK(server.wait_for_requests(4, 0));
  CHECK_FALSE(server.wait_for_requests(5, 10));
  curl.slist_free_all(headers);
  curl.easy_cleanup(easy);
}
