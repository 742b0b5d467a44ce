#include "ingest_writer.hpp"

#include <spdlog/spdlog.h>

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

void IngestWriter::run() {
  std::vector<Item> items;
  std::vector<PreparedMessage> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
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
    {
      std::lock_guard lock(mu_);
      ++batches_;
      messages_ += items.size();
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!results) items[i].done(results.error());
      else items[i].done(std::move(results.value()[i]));
    }
    if (!results) spdlog::warn("commit of {} message(s) failed: {}", items.size(), results.error().message);
    items.clear();
  }
}

}  // namespace cased
