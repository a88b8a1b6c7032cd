// Native completions from many threads, built with ThreadSanitizer (no Catch: this binary and
// everything it runs is compiled with -fsanitize=thread, so a race in the completion path —
// the process-wide token registry, a host's inbox, its wake-up — is reported, and
// TSAN_OPTIONS=halt_on_error=1 makes it this test's failure).
//
// The host's thread issues tokens, takes completions and cancels runs while 8 threads
// complete them, each token from two threads at once (one wins: the other is told it was
// done already); a host's inbox goes away with tokens still out (completing them then is
// refused as cancelled). Every count is checked: nothing lost, nothing twice.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "artana/kernel/json_parse.h"
#include "native_inbox.h"

using artana::host::complete_native;
using artana::host::CompleteResult;
using artana::host::NativeInbox;
using artana::host::NativeReply;

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

// As artana_complete_ok does on the completing thread: the application's JSON text parsed
// there (each thread has its own parser), then handed over.
NativeReply answer(int64_t n) {
  NativeReply reply;
  auto parsed = artana::kernel::parse_json("{\"output\":{\"n\":" + std::to_string(n) +
                                               ",\"say\":\"hi\"},\"usage\":{\"prompt_tokens\":3}}",
                                           "json");
  check(parsed.ok(), "the answer parses");
  if (parsed.ok()) reply.value = std::move(*parsed);
  return reply;
}

}  // namespace

int main() {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  constexpr int kPerRound = 400;  // tokens a round: 8 threads, two completers each
  std::atomic<int> wakes{0};
  auto inbox = std::make_unique<NativeInbox>([&wakes] { wakes.fetch_add(1); });

  std::atomic<int> done{0}, already{0}, cancelled{0};
  size_t taken = 0, cancelled_owner = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Owner = token index % 10: owner 9's tokens are cancelled while the threads complete.
    std::vector<uint64_t> tokens;
    for (int i = 0; i < kPerRound; ++i) tokens.push_back(inbox->issue(i % 10, i));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        // Thread t completes tokens t, t+4, … ; its twin (t ± 4) completes the same ones.
        for (size_t i = static_cast<size_t>(t % 4); i < tokens.size(); i += 4) {
          switch (complete_native(tokens[i], answer(static_cast<int64_t>(i)))) {
            case CompleteResult::kDone:
              done.fetch_add(1);
              break;
            case CompleteResult::kAlreadyDone:
              already.fetch_add(1);
              break;
            case CompleteResult::kCancelled:
              cancelled.fetch_add(1);
              break;
            case CompleteResult::kUnknownToken:
              check(false, "a token issued was unknown");
              break;
          }
        }
      });
    }
    go.store(true);
    // The host's thread meanwhile: a run stops (its tokens cancelled) and ticks take.
    inbox->cancel_owner(9);
    cancelled_owner += kPerRound / 10;
    for (int spins = 0; spins < 1000; ++spins) {
      if (inbox->has_done()) taken += inbox->take().size();
    }
    for (std::thread& thread : threads) thread.join();
    taken += inbox->take().size();
  }
  const int issued = kRounds * kPerRound;
  // Each token was tried twice: once counted done or cancelled, once already or cancelled.
  check(done.load() + already.load() + cancelled.load() == 2 * issued, "every attempt answered");
  check(done.load() <= issued, "each token done at most once");
  check(taken <= static_cast<size_t>(done.load()), "nothing taken twice");
  check(taken == static_cast<size_t>(issued) - cancelled_owner,
        "the live owners' tokens all taken");
  check(wakes.load() >= 1, "the host was woken");
  check(inbox->outstanding() == 0, "nothing left outstanding");

  // The host goes with tokens out: completing them from threads is refused, nothing lands.
  std::vector<uint64_t> left;
  for (int i = 0; i < 64; ++i) left.push_back(inbox->issue(1, i));
  std::atomic<int> refused{0};
  std::thread late([&] {
    for (uint64_t token : left)
      if (complete_native(token, answer(0)) == CompleteResult::kCancelled) refused.fetch_add(1);
  });
  inbox.reset();
  late.join();
  // Those completed before the inbox went were accepted (and dropped with it); the rest
  // were refused as cancelled: no crash, no race either way.
  check(refused.load() <= 64, "late completions refused or accepted, never lost track of");
  for (uint64_t token : left)
    check(complete_native(token, answer(0)) != CompleteResult::kDone,
          "no completion after the host");

  if (failures > 0) return 1;
  std::printf(
      "native completions from %d threads: %d done, %d already done, %d cancelled, %zu taken\n",
      kThreads, done.load(), already.load(), cancelled.load(), taken);
  return 0;
}
