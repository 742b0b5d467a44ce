// One writer thread that owns the database connection and commits queued
// messages in batches: N sessions delivering at once pay about one durable
// sync per batch, not one each (group commit). Callbacks run on the writer
// thread, after the commit (or its failure). What it stored is indexed for
// search afterwards, off the path to the 250 reply: when it is idle with
// kIndexIdleBatch messages to index or has been idle for kIndexIdle, and at
// the latest every kIndexBatch messages or kIndexBytes of text.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "store/store.hpp"

namespace cased {

class IngestWriter {
 public:
  using Callback = std::function<void(Result<IngestResult>)>;

  // Opens (creates, migrates) the store; throws StoreError if it cannot.
  IngestWriter(const std::string& database, StoreOptions options, std::size_t max_batch = 256);
  ~IngestWriter();
  IngestWriter(const IngestWriter&) = delete;
  IngestWriter& operator=(const IngestWriter&) = delete;

  // Queues a prepared message. `done` gets the result once it is durable, or
  // a temporary error (the caller answers 451 and the MTA retries).
  void submit(PreparedMessage message, Callback done);

  // Commits what is queued, then stops the thread. Idempotent.
  void stop();

  std::uint64_t batches() const;
  std::uint64_t messages() const;

 private:
  void run();
  void index_stored();

  static constexpr std::chrono::milliseconds kIndexIdle{20};
  static constexpr std::size_t kIndexIdleBatch = 8;
  static constexpr std::size_t kIndexBatch = 64;
  static constexpr std::size_t kIndexBytes = 8 << 20;

  struct Item {
    PreparedMessage message;
    Callback done;
  };
  Store store_;
  std::size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::uint64_t batches_ = 0, messages_ = 0;
  std::vector<IndexText> unindexed_;  // writer thread only, in id order
  std::size_t unindexed_bytes_ = 0;
  std::thread thread_;
};

}  // namespace cased
