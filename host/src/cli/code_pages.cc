// The CLI's code pages, mapped in one call at start-up.
//
// A short `artana` command runs a little of a lot of code, and each part of the binary's text
// is mapped by a page fault on first use (a one-step run: 87 faults on the binary, 35 with
// this call, which leaves those on its data). On a virtual machine
// a fault costs several microseconds; asking the kernel to map the whole text at once
// (MADV_POPULATE_READ, Linux 5.14; the pages are in the page cache) costs less than the
// faults it saves (docs/benchmarks.md, cli_first_step_ms). Where the kernel lacks it the call
// fails and nothing changes. Only the CLI: an embedding application decides for itself.
#include <sys/mman.h>

#include <cstdint>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

extern "C" char __executable_start;  // the linker's: the first byte of the binary's image
extern "C" char etext;               // the end of its text

namespace {

// Before other static constructors, which run code from all over the binary.
__attribute__((constructor(101))) void map_code_pages() {
  constexpr uintptr_t kPage = 4096;
  const auto start = reinterpret_cast<uintptr_t>(&__executable_start) & ~(kPage - 1);
  const auto end = reinterpret_cast<uintptr_t>(&etext);
  ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_READ);
}

}  // namespace
