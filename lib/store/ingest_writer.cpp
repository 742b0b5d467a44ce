#include "store/ingest_writer.hpp"

#include <spdlog/spdlog.h>

#include "core/fault_log.hpp"

namespace cased {
namespace {

Store open_store(const std::string& database, StoreOptions options) {
  auto s = Store::open(database, std::move(options));
  if (!s) throw StoreError(s.error().code, s.error().message);
  return std::move(s.value());
}

}  // namespace

IngestWriter::IngestWriter(const std::string& database, StoreOptions options, std::size_t max_batch)
    : store_(open_store(database, std::move(options))), max_batch_(max_batch), thread_([this] { run(); }) {}

IngestWriter::~IngestWriter() { stop(); }

void IngestWriter::submit(PreparedMessage message, Callback done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(Item{std::move(message), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(Error{Errc::temporary, "shutting down"});
}

void IngestWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

std::uint64_t IngestWriter::batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

std::uint64_t IngestWriter::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

void IngestWriter::index_stored() {
  auto indexed = store_.index_pending(unindexed_, /*durable=*/false);
  // A full disk or a locked database is logged once (core/fault_log.hpp);
  // what is unindexed stays marked so in the database and is picked up later.
  if (!indexed && is_lasting_fault(indexed.error().code))
    fault_log().failed(indexed.error(), "search indexing waits and resumes after the next delivery");
  else if (!indexed)
    spdlog::warn("search index: {}; retried with the next message or search", indexed.error().message);
  unindexed_.clear();
  unindexed_bytes_ = 0;
}

void IngestWriter::run() {
  std::vector<Item> items;
  std::vector<PreparedMessage> batch;
  index_stored();  // what a crash or casectl left unindexed
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // Idle: index what was stored once kIndexIdleBatch messages wait for
      // it, or nothing came for kIndexIdle. A few messages per index
      // transaction write their shared terms once and cost one
      // transaction's pages, which the next durable commit must sync;
      // many would hold the writer while sessions queue behind it.
      if (queue_.empty() && !unindexed_.empty()) {
        if (unindexed_.size() < kIndexIdleBatch)
          cv_.wait_for(lock, kIndexIdle, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
          lock.unlock();
          index_stored();
          continue;
        }
      }
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && items.size() < max_batch_) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    batch.clear();
    for (auto& it : items) batch.push_back(std::move(it.message));
    auto results = store_.ingest(batch);
    for (std::size_t i = 0; results && i < batch.size(); ++i) {
      auto& r = results.value()[i];
      if (!r || r->duplicate) continue;
      ParsedMessage& pm = batch[i].parsed;
      unindexed_bytes_ += pm.subject.size() + pm.body.size();
      unindexed_.push_back(IndexText{r->message, std::move(pm.subject), std::move(pm.body)});
    }
    batch.clear();  // the raw messages are stored: not held while they are indexed
    {
      std::lock_guard lock(mu_);
      ++batches_;
      messages_ += items.size();
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!results) items[i].done(results.error());
      else items[i].done(std::move(results.value()[i]));
    }
    // A lasting fault is reported once by the caller (the delivery's fault log line).
    if (!results)
      spdlog::log(is_lasting_fault(results.error().code) ? spdlog::level::debug : spdlog::level::warn,
                  "commit of {} message(s) failed: {}", items.size(), results.error().message);
    items.clear();
    if (unindexed_.size() >= kIndexBatch || unindexed_bytes_ >= kIndexBytes) index_stored();
  }
}

}  // namespace cased
