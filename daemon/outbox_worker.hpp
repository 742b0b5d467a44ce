// The daemon's sender: one thread with its own database connection and GPGME
// context that sends due outbox rows (acknowledgements, replies casectl could
// not send, retries with back-off). Woken after deliveries, else every few seconds.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/config.hpp"

namespace cased {

class OutboxWorker {
 public:
  explicit OutboxWorker(const Config& config);
  ~OutboxWorker();
  OutboxWorker(const OutboxWorker&) = delete;
  OutboxWorker& operator=(const OutboxWorker&) = delete;

  void wake();
  void stop();

 private:
  void run();

  const Config& config_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace cased
