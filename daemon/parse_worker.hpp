// Parse workers: each LMTP parser thread hands its messages to a
// single-threaded cased process of its own (this binary, exec'd with
// --parse-worker) that parses, decrypts and verifies them and sends the
// prepared message back over a socketpair.
//
// Why a process: GPGME forks for every gpg it runs. Forking the daemon, with
// its threads on both cores, write-protects its whole heap and sends
// TLB-shootdown interrupts to the other core; the faults that follow cost
// more CPU than the rest of cased's work on a PGP message (docs/benchmarks.md).
// Forked from a small single-threaded worker, gpg is as cheap to start as in
// a bare GPGME program. The plaintext crosses only the socketpair (kernel
// memory): never a file, never a command line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace cased {

struct ParseWorkerOptions {
  std::string exe;                    // this binary; "/proc/self/exe" keeps the running version
  std::string gpg_home;               // empty: no PGP
  int gpg_timeout_seconds = 60;
  std::uint64_t max_plaintext = 50ull << 20;  // decrypted content, at most (max_message_size)
  std::vector<std::string> own_keys;  // fingerprints already listed, so the worker need not ask gpg-agent
};

// The daemon's end: one worker process, started on first use and replaced
// when it dies or stalls. Use from one thread at a time.
class ParseWorker {
 public:
  explicit ParseWorker(ParseWorkerOptions options);
  ~ParseWorker();
  ParseWorker(const ParseWorker&) = delete;
  ParseWorker& operator=(const ParseWorker&) = delete;

  // Parses, decrypts and verifies the message in the worker. Anything that
  // goes wrong on the way (no worker, a worker that dies or takes longer
  // than the gpg time limit allows) is a temporary error: the MTA retries.
  Result<PreparedMessage> prepare(std::string raw, Envelope envelope);

  pid_t pid() const { return pid_; }

 private:
  Status start();
  void stop(bool force);
  ParseWorkerOptions options_;
  pid_t pid_ = -1;
  int fd_ = -1;
};

// The worker's end: serves requests on `fd` until the daemon closes it.
// Returns the process exit code.
int run_parse_worker(int fd, const ParseWorkerOptions& options);

}  // namespace cased
