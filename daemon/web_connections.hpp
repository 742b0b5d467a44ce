// The web form's task queue: httplib's thread pool, plus a watchdog over
// the connections it serves. httplib bounds the time between two reads but
// not a whole request, so a client sending a byte every few seconds holds a
// pool thread for hours, and sixteen such clients hold the form. httplib
// does not hand the queue its socket either: this queue finds it (the one
// connected socket on the listening address, in /proc/self/fd right after
// accept, that was not there at the last look) and keeps a duplicate of
// it, so that shutting it down can never touch a descriptor number httplib
// closed and something reused. A connection is shut down when it outlives
// its lifetime, at once when its client has `per_client` open already, and
// at a stop after a short grace.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "core/unique_fd.hpp"
#include "web/connections.hpp"

namespace cased {

struct ConnectionLimits {
  std::size_t threads = 16;
  std::size_t per_client = 8;   // 0: no cap per client (a proxy in front)
  std::chrono::seconds lifetime{300};
  std::string address;          // the listening address; "" or a wildcard: any
  unsigned short port = 0;
};

class GuardedTaskQueue final : public httplib::TaskQueue {
 public:
  explicit GuardedTaskQueue(ConnectionLimits limits);
  ~GuardedTaskQueue() override;
  GuardedTaskQueue(const GuardedTaskQueue&) = delete;
  GuardedTaskQueue& operator=(const GuardedTaskQueue&) = delete;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  struct Accepted {
    UniqueFd socket;  // a duplicate: shutdown(2) through it reaches the connection
    std::string client;
  };
  std::optional<Accepted> find_accepted();
  void finish(std::uint64_t id);
  void watch();

  ConnectionLimits limits_;
  httplib::ThreadPool pool_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  web::ConnectionTable table_;
  std::map<std::uint64_t, Accepted> open_;
  std::uint64_t next_id_ = 1;
  std::thread watchdog_;
};

// The lifetime of a connection: a minute, plus the time to send max_upload
// at 64 KiB/s (a slow but real uplink).
std::chrono::seconds connection_lifetime(std::size_t max_upload);

}  // namespace cased
