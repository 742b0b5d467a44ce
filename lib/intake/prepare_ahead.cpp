#include "intake/prepare_ahead.hpp"

#include "mail/mbox.hpp"

namespace cased {

PrepareAhead::PrepareAhead(std::istream& in, Envelope envelope, Crypto* crypto, BatchLimits limits)
    : envelope_(std::move(envelope)), crypto_(crypto), limits_(limits) {
  if (limits_.messages == 0) limits_.messages = 1;
  if (limits_.ahead == 0) limits_.ahead = 1;
  thread_ = std::thread([this, &in] { run(in); });
}

PrepareAhead::~PrepareAhead() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::optional<std::vector<PreparedMessage>> PrepareAhead::next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty() || done_; });
  if (ready_.empty()) {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return std::nullopt;
  }
  std::vector<PreparedMessage> batch = std::move(ready_.front());
  ready_.pop_front();
  cv_.notify_all();
  return batch;
}

std::size_t PrepareAhead::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

bool PrepareAhead::push(std::vector<PreparedMessage>& batch) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return ready_.size() < limits_.ahead || stop_; });
  if (stop_) return false;
  ready_.push_back(std::move(batch));
  batch.clear();
  cv_.notify_all();
  return true;
}

void PrepareAhead::run(std::istream& in) {
  try {
    std::vector<PreparedMessage> batch;
    std::size_t bytes = 0;
    bool go_on = true;
    read_mbox(in, [&](std::string&& one) {
      bytes += one.size();
      batch.push_back(prepare_message(std::move(one), envelope_, crypto_));
      {
        std::lock_guard lock(mu_);
        ++messages_;
      }
      if (batch.size() >= limits_.messages || bytes >= limits_.bytes) {
        bytes = 0;
        go_on = push(batch);
      }
      return go_on;
    });
    if (go_on && !batch.empty()) push(batch);
  } catch (...) {
    std::lock_guard lock(mu_);
    error_ = std::current_exception();
  }
  std::lock_guard lock(mu_);
  done_ = true;
  cv_.notify_all();
}

}  // namespace cased
