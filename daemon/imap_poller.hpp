// The IMAP poller: fetches new mail from [imap] mailbox with BODY.PEEK[],
// stores it through the same path as LMTP, and only after the commit moves
// it to done_mailbox. UIDVALIDITY and the last UID handled live in the
// database, so a restart or a crash between commit and move loses nothing
// and stores nothing twice (ingest is idempotent). IDLE when offered.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "core/config.hpp"
#include "store/ingest_writer.hpp"

namespace cased {

class OutboxWorker;

class ImapPoller {
 public:
  ImapPoller(const Config& config, IngestWriter& writer, OutboxWorker& outbox);
  ~ImapPoller();
  ImapPoller(const ImapPoller&) = delete;
  ImapPoller& operator=(const ImapPoller&) = delete;

  void stop();

 private:
  void run();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace cased
