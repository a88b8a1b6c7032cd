// CurlLibrary: libcurl is loaded on first use, not linked, and works once loaded.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "curl_library.h"

using artana::io::CurlLibrary;

namespace {

// A listener on 127.0.0.1 that answers one connection with `response` and closes it.
struct OneShotServer {
  int fd = -1;
  int port = 0;
  std::thread thread;
  std::string request;

  explicit OneShotServer(std::string response) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    thread = std::thread([this, response] {
      const int conn = accept(fd, nullptr, nullptr);
      if (conn < 0) return;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(conn, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      (void)!write(conn, response.data(), response.size());
      close(conn);
    });
  }
  ~OneShotServer() {
    if (thread.joinable()) thread.join();
    close(fd);
  }
};

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

  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello");
  CURL* easy = curl.easy_init();
  REQUIRE(easy != nullptr);
  std::string body;
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port) + "/v1/ping";
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
  CHECK(server.request.rfind("GET /v1/ping HTTP/1.1\r\n", 0) == 0);
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
