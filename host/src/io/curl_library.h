// CurlLibrary: libcurl, loaded the first time an HTTP step needs it (dlopen), not linked.
//
// Why: libcurl.so brings 32 more shared libraries (TLS, HTTP/2, IDN, LDAP, SSH, Kerberos…);
// linked, the dynamic loader maps and relocates all of them at every start: a do-nothing
// program linked with -lcurl starts in 13.7 ms here against 1.7 ms without. Most `artana`
// commands (status, a Lua model, a replay) never make an HTTP request. The headers give the
// types and constants; the functions are found once, by name, in libcurl.so.4 (the ABI
// every libcurl 7.x and 8.x keeps), and curl_global_init runs once, thread-safely.
//
// Thread-safe: get() loads on the first call, and every call returns the same answer.
#pragma once

#include <curl/curl.h>

#include <string>

#include "artana/kernel/status.h"

namespace artana::io {

struct CurlLibrary {
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  CURLcode (*easy_perform)(CURL*);  // blocking: tests and tools, never the I/O thread
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  CURLM* (*multi_init)();
  CURLMcode (*multi_setopt)(CURLM*, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_perform)(CURLM*, int*);
  CURLMcode (*multi_poll)(CURLM*, struct curl_waitfd*, unsigned int, int, int*);
  CURLMcode (*multi_wakeup)(CURLM*);
  CURLMsg* (*multi_info_read)(CURLM*, int*);
  CURLMcode (*multi_cleanup)(CURLM*);
  const char* (*multi_strerror)(CURLMcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);

  std::string version;  // libcurl's, e.g. "7.88.1"
  std::string path;     // what was loaded, e.g. "libcurl.so.4"

  // The loaded library, or kFailedPrecondition saying what is missing and what to install.
  static Result<const CurlLibrary*> get();
};

}  // namespace artana::io
