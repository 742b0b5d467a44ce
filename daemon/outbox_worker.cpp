#include "outbox_worker.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "crypto/crypto.hpp"
#include "outbound/outbox.hpp"
#include "store/store.hpp"

namespace cased {

OutboxWorker::OutboxWorker(const Config& config) : config_(config), thread_([this] { run(); }) {}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  cv_.notify_one();
}

void OutboxWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::run() {
  if (!config_.smtp) {
    spdlog::info("outbox: no [smtp] section; replies and acknowledgements stay queued");
    return;
  }
  std::unique_ptr<Crypto> crypto;
  auto store = Store::open(config_.case_.database, store_options(config_, config_.ack.enabled));
  if (!store) {
    spdlog::error("outbox: {}", store.error().message);
    return;
  }
  try {
    crypto = std::make_unique<Crypto>(config_.gpg.home, std::chrono::seconds(config_.gpg.timeout_seconds));
  } catch (const std::exception& e) {
    spdlog::error("outbox: cannot use gpg.home {}: {}; nothing will be sent", config_.gpg.home, e.what());
    return;
  }
  Outbox outbox(*store, *crypto, outbox_options(config_));
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    try {
      outbox.send_due(config_.smtp);
    } catch (const std::exception& e) {
      spdlog::error("outbox: {}", e.what());
    }
  }
}

}  // namespace cased
