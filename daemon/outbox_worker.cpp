#include "outbox_worker.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/fault_log.hpp"
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
  auto store = Store::open(config_.case_.database, store_options(config_, config_.ack.enabled));
  if (!store) {
    spdlog::error("outbox: {}", store.error().message);
    return;
  }
  std::unique_ptr<Crypto> crypto;
  std::unique_ptr<Outbox> outbox;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    if (!outbox) {
      try {
        crypto = std::make_unique<Crypto>(config_.gpg.home, std::chrono::seconds(config_.gpg.timeout_seconds));
        outbox = std::make_unique<Outbox>(*store, *crypto, outbox_options(config_));
      } catch (const CryptoTimeout& e) {
        // gpg-agent hangs: logged once, tried again at the next wake.
        fault_log().failed(Error{Errc::unavailable, e.what()}, "the outbox waits and sends once it answers");
        continue;
      } catch (const std::exception& e) {
        spdlog::error("outbox: cannot use gpg.home {}: {}; nothing will be sent", config_.gpg.home, e.what());
        return;
      }
    }
    try {
      outbox->send_due(config_.smtp);
    } catch (const std::exception& e) {
      spdlog::error("outbox: {}", e.what());
    }
  }
}

}  // namespace cased
