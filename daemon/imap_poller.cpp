#include "imap_poller.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <spdlog/spdlog.h>

#include "core/fault_log.hpp"
#include "crypto/crypto.hpp"
#include "imap_client.hpp"
#include "net/net.hpp"
#include "outbox_worker.hpp"
#include "store/store.hpp"

namespace cased {

struct ImapPoller::Impl {
  const Config& config;
  IngestWriter& writer;
  OutboxWorker& outbox;
  std::atomic<bool> stopping{false};
  int wake_fd = -1;  // eventfd: stop() interrupts IDLE and sleeps
  std::unique_ptr<Crypto> crypto;
  std::string state_key;
  // UIDs whose fetch failed, and how often in a row. Some servers (Dovecot)
  // drop the connection when a message cannot be read on their side; after
  // kMaxFetchFailures such a message is passed over until cased restarts,
  // so that one bad message cannot hold up the rest of the mailbox.
  std::map<std::pair<std::uint32_t, std::uint32_t>, int> fetch_failures;  // (uidvalidity, uid)
  static constexpr int kMaxFetchFailures = 3;
  // Left where they are for good: over max_message_size, or stored and
  // flagged on a server without MOVE and UIDPLUS. Not looked at again.
  std::set<std::pair<std::uint32_t, std::uint32_t>> passed_over;
  int warned_no_move = 0;  // said once per process, not per reconnect
  int warned_many = 0;
  struct Capabilities {
    bool move = false, uidplus = false;
  };

  Impl(const Config& c, IngestWriter& w, OutboxWorker& o) : config(c), writer(w), outbox(o) {
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    state_key = fmt::format("{}@{}/{}", c.imap->user, c.imap->host, c.imap->mailbox);
  }
  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // Waits up to `seconds` or until stop() (or `fd` becomes readable). True if fd is readable.
  bool wait(int seconds, int fd = -1) {
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    int n = ::poll(fds, fd >= 0 ? 2 : 1, seconds * 1000);
    return n > 0 && fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR));
  }

  // The UIDVALIDITY seen last time, 0 if never; only to say when it changed.
  // A database fault ends the session (reconnect, as for a network fault).
  std::uint32_t load_validity(Store& store) {
    auto v = store.imap_uidvalidity(state_key);
    if (!v) throw std::runtime_error("reading the IMAP state: " + v.error().message);
    return *v;
  }

  // The last UID is recorded for diagnosis only (sqlite3 ... imap_state);
  // it is never used to skip mail.
  void save_state(Store& store, std::uint32_t validity, std::uint32_t last_uid = 0) {
    if (auto saved = store.save_imap_state(state_key, validity, last_uid); !saved)
      throw std::runtime_error("recording the IMAP state: " + saved.error().message);
  }

  // Stores one message; true once it is durable.
  bool ingest(std::string raw, std::uint32_t uid) {
    PreparedMessage prepared = prepare_message(std::move(raw), Envelope{MessageSource::imap, std::nullopt, {}}, crypto.get());
    std::promise<Result<IngestResult>> done;
    auto future = done.get_future();
    writer.submit(std::move(prepared), [&done](Result<IngestResult> r) { done.set_value(std::move(r)); });
    auto r = future.get();
    if (!r) {
      // A full disk or a locked database: one line for the fault, not one per message and pass.
      if (is_lasting_fault(r.error().code))
        fault_log().failed(r.error(), "IMAP mail stays in the mailbox and is fetched again on a later pass");
      else
        spdlog::warn("imap: uid {} not stored ({}); left in the mailbox and tried again on a later pass", uid,
                     r.error().message);
      return false;
    }
    fault_log().cleared(Errc::full);
    fault_log().cleared(Errc::busy);
    spdlog::info("imap: uid {} stored: case={} message={} new_case={} duplicate={}", uid, r->case_id, r->message,
                 r->new_case, r->duplicate);
    if (r->ack_capped)
      spdlog::warn("case={}: not acknowledged: its sender had the day's acknowledgements (ack.per_sender_per_day)",
                   r->case_id);
    if (r->ack_busy)
      spdlog::warn("case={}: not acknowledged: the hour's acknowledgements were sent (ack.per_hour)", r->case_id);
    if (r->new_case) outbox.wake();
    return true;
  }

  // Over max_message_size: never fetched; flagged for a person, logged once.
  void leave_too_large(mailimap* s, const imap::Entry& e) {
    spdlog::warn("imap: uid {} is {} bytes, over max_message_size {}; not fetched, flagged {} and left in {}", e.uid,
                 e.size, config.lmtp.max_message_size, imap::kTooLargeKeyword, config.imap->mailbox);
    try {
      imap::add_flags(s, e.uid, false, true, imap::kTooLargeKeyword);
    } catch (const imap::Failure& f) {
      spdlog::warn("imap: {}", f.what());  // remembered below; the next session tries again
    }
  }

  enum class Outcome { done, skipped, failed };

  // One message of a pass. Throws imap::Failure when the session is unusable.
  Outcome handle(mailimap* s, const imap::Entry& e, std::uint32_t validity, const Capabilities& caps) {
    const ImapConfig& c = *config.imap;
    std::pair key{validity, e.uid};
    if (e.stored || e.too_large || passed_over.count(key)) return Outcome::skipped;
    auto failures = fetch_failures.find(key);
    if (failures != fetch_failures.end() && failures->second >= kMaxFetchFailures) return Outcome::skipped;
    std::optional<std::string> raw;
    try {
      // The size first: an oversize message is never fetched.
      std::optional<std::uint32_t> size = imap::fetch_size(s, e.uid);
      if (size && *size > config.lmtp.max_message_size) {
        passed_over.insert(key);
        leave_too_large(s, imap::Entry{e.uid, *size, false, false});
        return Outcome::skipped;
      }
      if (size) raw = imap::fetch_body(s, e.uid, *size);
    } catch (const imap::Failure&) {
      int n = ++fetch_failures[key];
      if (n >= kMaxFetchFailures)
        spdlog::warn("imap: uid {} not fetched {} times in a row; left in {} and passed over until restart", e.uid, n,
                     c.mailbox);
      throw;  // the session is likely gone: reconnect
    }
    if (!raw) {
      std::string server = imap::server_said(s);
      spdlog::warn("imap: uid {} not fetched{}{}; left in {} and tried again on the next pass", e.uid,
                   server.empty() ? "" : ": ", server, c.mailbox);
      return Outcome::skipped;
    }
    fetch_failures.erase(key);
    if (raw->size() > config.lmtp.max_message_size) {  // RFC822.SIZE was wrong
      passed_over.insert(key);
      leave_too_large(s, imap::Entry{e.uid, static_cast<std::uint32_t>(raw->size()), false, false});
      return Outcome::skipped;
    }
    // One that cannot be stored now is left for a later pass; the rest go on.
    if (!ingest(std::move(*raw), e.uid)) return Outcome::failed;
    if (caps.move || caps.uidplus) {
      imap::finish(s, e.uid, c.done_mailbox, caps.move, caps.uidplus);
      return Outcome::done;
    }
    // It stays in the mailbox: never fetched again by this process, even if
    // the server refuses the keyword that tells the next one.
    passed_over.insert(key);
    try {
      imap::finish(s, e.uid, c.done_mailbox, false, false);
    } catch (const imap::Failure& f) {
      spdlog::warn("imap: uid {} stored but not flagged: {}", e.uid, f.what());
    }
    return Outcome::done;
  }

  // One connected session: catch up, then IDLE or poll until stop or error.
  void session(Store& store) {
    const ImapConfig& c = *config.imap;
    imap::Session session = imap::connect(c, wake_fd);
    mailimap* s = session.get();
    imap::arm(s);
    Capabilities caps{net::imap_has_capability(s, "MOVE"), net::imap_has_capability(s, "UIDPLUS")};
    bool has_idle = net::imap_has_capability(s, "IDLE");
    if (!caps.move && !caps.uidplus && !warned_no_move++)
      spdlog::warn("imap: {} offers neither MOVE nor UIDPLUS: stored mail is flagged \\Seen and {} and left in {}",
                   c.host, imap::kStoredKeyword, c.mailbox);
    // CREATE fails when it exists already; that is fine.
    imap::arm(s);
    mailimap_create(s, c.done_mailbox.c_str());
    imap::arm(s);
    imap::check(mailimap_select(s, c.mailbox.c_str()), "IMAP SELECT", s);
    std::uint32_t validity = s->imap_selection_info ? s->imap_selection_info->sel_uidvalidity : 0;
    std::uint32_t stored_validity = load_validity(store);
    if (stored_validity != validity) {
      if (stored_validity != 0)
        spdlog::warn("imap: UIDVALIDITY of {} changed ({} -> {}); rescanning, duplicates are recognised",
                     c.mailbox, stored_validity, validity);
      save_state(store, validity);
    }
    // Every message still in the mailbox is unfinished: finished ones are
    // moved away (or, without MOVE and UIDPLUS, flagged). So each pass scans
    // the whole mailbox rather than trusting a remembered UID; a server that
    // reuses UIDs without changing UIDVALIDITY cannot make us skip mail, and
    // one stored but not yet moved is recognised as a duplicate and moved.
    spdlog::info("imap: connected to {}:{} ({}), mailbox {}, idle={}", c.host, c.port, to_string(c.security), c.mailbox,
                 has_idle && c.idle);
    bool rescanned = false;  // the last pass ran without an IDLE before it
    while (!stopping) {
      std::uint32_t exists = s->imap_selection_info ? s->imap_selection_info->sel_exists : 0;
      if (exists > imap::kMaxListed && !warned_many++)
        spdlog::warn("imap: {} reports {} messages; each pass looks at the first {}", c.mailbox, exists,
                     imap::kMaxListed);
      auto entries = imap::list(s, exists);
      std::size_t done = 0, failed = 0;
      for (const imap::Entry& e : entries) {
        if (stopping) return;
        Outcome o = handle(s, e, validity, caps);
        if (o == Outcome::failed) ++failed;
        if (o == Outcome::done && ++done % 100 == 0)
          spdlog::info("imap: {} of {} new messages stored", done, entries.size());
      }
      if (!entries.empty()) save_state(store, validity, entries.back().uid);
      // Passed-over and unfetchable messages were logged above and stay put.
      if (done > 0)
        spdlog::info("imap: {} new message(s) stored and {}", done,
                     caps.move || caps.uidplus ? "moved to " + c.done_mailbox : std::string("flagged"));
      if (stopping) return;
      if (failed > 0) {
        // Retried on the next pass, after a pause rather than at once.
        wait(std::min(c.poll_seconds, 30));
        continue;
      }
      idle_or_poll(s, entries.size(), done, rescanned, has_idle && c.idle);
    }
    imap::arm(s);
    mailimap_logout(s);
  }

  // Between passes. A message that arrived during the pass was announced
  // (EXISTS) in the reply to one of its commands; IDLE will not announce it
  // again. The count libetpan keeps then exceeds what the pass left behind:
  // look again first. Once only without news, so that a server that never
  // reports its expunges cannot keep us from idling.
  void idle_or_poll(mailimap* s, std::size_t listed, std::size_t done, bool& rescanned, bool idle) {
    std::uint32_t exists = s->imap_selection_info ? s->imap_selection_info->sel_exists : 0;
    if (exists > listed - done && !(rescanned && done == 0)) {
      rescanned = true;
      return;
    }
    rescanned = false;
    if (idle) {
      imap::arm(s);
      imap::check(mailimap_idle(s), "IDLE", s);
      // An EXISTS that came with the IDLE continuation already sits in a
      // buffer, where poll() cannot see it. Re-issued well before the
      // 29-minute limit of RFC 2177.
      if (!net::has_buffered_input(s->imap_stream)) wait(25 * 60, mailimap_idle_get_fd(s));
      imap::arm(s);
      imap::check(mailimap_idle_done(s), "DONE", s);
    } else {
      wait(config.imap->poll_seconds);
      imap::arm(s);
      imap::check(mailimap_noop(s), "NOOP", s);
    }
  }
};

ImapPoller::ImapPoller(const Config& config, IngestWriter& writer, OutboxWorker& outbox)
    : impl_(std::make_unique<Impl>(config, writer, outbox)), thread_([this] { run(); }) {}

ImapPoller::~ImapPoller() { stop(); }

void ImapPoller::stop() {
  impl_->stopping = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(impl_->wake_fd, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void ImapPoller::run() {
  const Config& config = impl_->config;
  auto store = Store::open(config.case_.database, store_options(config, config.ack.enabled));
  if (!store) {
    spdlog::error("imap: {}", store.error().message);
    return;
  }
  int backoff = 1;
  // A gpg-agent that does not answer: the mail waits in the mailbox, never
  // fetched undecrypted; tried again with the same back-off.
  while (!impl_->stopping) {
    try {
      impl_->crypto = std::make_unique<Crypto>(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds),
                                               config.lmtp.max_message_size);
    } catch (const CryptoTimeout& e) {
      fault_log().failed(Error{Errc::unavailable, e.what()}, "IMAP mail waits in the mailbox until it answers");
      impl_->wait(backoff);
      backoff = std::min(backoff * 2, 300);
      continue;
    } catch (const std::exception& e) {
      spdlog::warn("imap: PGP is off: {}", e.what());
    }
    break;
  }
  backoff = 1;
  while (!impl_->stopping) {
    try {
      impl_->session(*store);
      backoff = 1;
    } catch (const std::exception& e) {
      spdlog::warn("imap: {}; reconnecting in {}s", e.what(), backoff);
      impl_->wait(backoff);
      backoff = std::min(backoff * 2, 300);
    }
  }
}

}  // namespace cased
