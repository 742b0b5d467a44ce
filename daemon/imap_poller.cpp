#include "imap_poller.hpp"

#include <libetpan/libetpan.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <future>
#include <spdlog/spdlog.h>

#include "crypto.hpp"
#include "outbox_worker.hpp"
#include "store.hpp"
#include "tls.hpp"

namespace cased {
namespace {

struct ImapFree {
  void operator()(mailimap* s) const { mailimap_free(s); }
};
using ImapSession = std::unique_ptr<mailimap, ImapFree>;

struct SetFree {
  void operator()(mailimap_set* s) const { mailimap_set_free(s); }
};
using ImapSet = std::unique_ptr<mailimap_set, SetFree>;

struct FetchListFree {
  void operator()(clist* l) const { mailimap_fetch_list_free(l); }
};
using FetchList = std::unique_ptr<clist, FetchListFree>;

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(int rc, const char* what, mailimap* s) {
  if (rc == MAILIMAP_NO_ERROR) return;
  std::string server = s && s->imap_response ? s->imap_response : "";
  throw Failure(fmt::format("{} failed (libetpan error {}){}{}", what, rc, server.empty() ? "" : ": ", server));
}

int connect_tcp(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) throw Failure(fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(res, freeaddrinfo);
  int last_errno = 0;
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
    last_errno = errno;
    ::close(fd);
  }
  throw Failure(fmt::format("cannot connect to {}:{}: {}", host, port, std::strerror(last_errno)));
}

std::string read_password(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Failure("cannot read imap.password_file " + path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Every UID of the selected mailbox, ascending.
std::vector<std::uint32_t> mailbox_uids(mailimap* s) {
  ImapSet set(mailimap_set_new_interval(1, 0));
  mailimap_fetch_type* type = mailimap_fetch_type_new_fetch_att_list_empty();
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_uid());
  clist* result = nullptr;
  int rc = mailimap_uid_fetch(s, set.get(), type, &result);
  mailimap_fetch_type_free(type);
  FetchList owner(result);
  if (rc == MAILIMAP_ERROR_FETCH && !result) return {};  // empty mailbox
  check(rc, "UID FETCH (UID)", s);
  std::vector<std::uint32_t> uids;
  for (clistiter* it = clist_begin(result); it; it = clist_next(it)) {
    auto* msg = static_cast<mailimap_msg_att*>(clist_content(it));
    for (clistiter* a = clist_begin(msg->att_list); a; a = clist_next(a)) {
      auto* item = static_cast<mailimap_msg_att_item*>(clist_content(a));
      if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
          item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID) {
        uids.push_back(item->att_data.att_static->att_data.att_uid);
      }
    }
  }
  std::sort(uids.begin(), uids.end());
  return uids;
}

// The whole message by UID, without setting \Seen. Nullopt if it vanished
// or the server will not give it.
std::optional<std::string> fetch_body(mailimap* s, std::uint32_t uid) {
  ImapSet set(mailimap_set_new_single(uid));
  mailimap_fetch_type* type = mailimap_fetch_type_new_fetch_att_list_empty();
  mailimap_section* section = mailimap_section_new(nullptr);
  mailimap_fetch_type_new_fetch_att_list_add(type, mailimap_fetch_att_new_body_peek_section(section));
  clist* result = nullptr;
  int rc = mailimap_uid_fetch(s, set.get(), type, &result);
  mailimap_fetch_type_free(type);
  FetchList owner(result);
  // The server refused this one message (NO: unreadable, broken on its side).
  // That is no reason to stop: the caller leaves it and goes on.
  if (rc == MAILIMAP_ERROR_FETCH) return std::nullopt;
  check(rc, "UID FETCH BODY.PEEK[]", s);
  for (clistiter* it = clist_begin(result); it; it = clist_next(it)) {
    auto* msg = static_cast<mailimap_msg_att*>(clist_content(it));
    for (clistiter* a = clist_begin(msg->att_list); a; a = clist_next(a)) {
      auto* item = static_cast<mailimap_msg_att_item*>(clist_content(a));
      if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
          item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_BODY_SECTION) {
        auto* body = item->att_data.att_static->att_data.att_body_section;
        return std::string(body->sec_body_part ? body->sec_body_part : "", body->sec_length);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

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

  ImapSession connect() {
    const ImapConfig& c = *config.imap;
    ImapSession s(mailimap_new(0, nullptr));
    if (!s) throw std::bad_alloc();
    int fd = connect_tcp(c.host, c.port);
    mailstream_low* low = nullptr;
    if (c.security == "tls") {
      auto tls = tls_client_low(fd, c.host, c.ca_file);
      if (!tls) {
        ::close(fd);
        throw Failure(tls.error().message);
      }
      low = *tls;
    } else {
      low = mailstream_low_socket_open(fd);
    }
    mailstream* stream = mailstream_new(low, 8192);
    int rc = mailimap_connect(s.get(), stream);
    if (rc != MAILIMAP_NO_ERROR_AUTHENTICATED && rc != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
      check(rc, "IMAP greeting", s.get());
    if (c.security == "starttls") {
      check(mailimap_starttls(s.get()), "STARTTLS", s.get());
      // Everything from here on goes through the verified TLS layer.
      auto tls = tls_upgrade_stream(s->imap_stream, c.host, c.ca_file);
      if (!tls) throw Failure(tls.error().message);
      mailimap_capability_data* caps = nullptr;
      check(mailimap_capability(s.get(), &caps), "CAPABILITY", s.get());
      mailimap_capability_data_free(caps);
    }
    std::string password = read_password(c.password_file);
    check(mailimap_login(s.get(), c.user.c_str(), password.c_str()), "LOGIN", s.get());
    return s;
  }

  // The UIDVALIDITY seen last time, 0 if never; only to say when it changed.
  std::uint32_t load_validity(Store& store) {
    auto& st = store.db().cached("SELECT uidvalidity FROM imap_state WHERE mailbox = ?");
    st.bind(1, state_key);
    std::uint32_t out = 0;
    if (st.step()) out = static_cast<std::uint32_t>(st.int64(0));
    st.reset();
    return out;
  }

  // The last UID is recorded for diagnosis only (sqlite3 ... imap_state);
  // it is never used to skip mail.
  void save_state(Store& store, std::uint32_t validity, std::uint32_t last_uid = 0) {
    sql::Transaction tx(store.db());
    store.db()
        .cached("INSERT INTO imap_state(mailbox, uidvalidity, last_uid) VALUES (?1, ?2, ?3) "
                "ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = ?2, last_uid = ?3")
        .bind(1, state_key)
        .bind(2, static_cast<std::int64_t>(validity))
        .bind(3, static_cast<std::int64_t>(last_uid))
        .run();
    tx.commit();
  }

  // Stores one message; true once it is durable.
  bool ingest(std::string raw, std::uint32_t uid) {
    PreparedMessage prepared = prepare_message(std::move(raw), Envelope{"imap", std::nullopt, {}}, crypto.get());
    std::promise<Result<IngestResult>> done;
    auto future = done.get_future();
    writer.submit(std::move(prepared), [&done](Result<IngestResult> r) { done.set_value(std::move(r)); });
    auto r = future.get();
    if (!r) {
      spdlog::warn("imap: uid {} not stored ({}); will retry", uid, r.error().message);
      return false;
    }
    spdlog::info("imap: uid {} stored: case={} message={} new_case={} duplicate={}", uid, r->case_id, r->message,
                 r->new_case, r->duplicate);
    if (r->new_case) outbox.wake();
    return true;
  }

  void move_done(mailimap* s, std::uint32_t uid, bool has_move, bool has_uidplus) {
    const std::string& done = config.imap->done_mailbox;
    ImapSet set(mailimap_set_new_single(uid));
    if (has_move) {
      check(mailimap_uid_move(s, set.get(), done.c_str()), "UID MOVE", s);
      return;
    }
    check(mailimap_uid_copy(s, set.get(), done.c_str()), "UID COPY", s);
    mailimap_flag_list* flags = mailimap_flag_list_new_empty();
    mailimap_flag_list_add(flags, mailimap_flag_new_deleted());
    mailimap_store_att_flags* att = mailimap_store_att_flags_new_add_flags_silent(flags);
    int rc = mailimap_uid_store(s, set.get(), att);
    mailimap_store_att_flags_free(att);
    check(rc, "UID STORE +FLAGS (\\Deleted)", s);
    check(has_uidplus ? mailimap_uid_expunge(s, set.get()) : mailimap_expunge(s), "EXPUNGE", s);
  }

  // One connected session: catch up, then IDLE or poll until stop or error.
  void session(Store& store) {
    const ImapConfig& c = *config.imap;
    ImapSession s = connect();
    bool has_move = mailimap_has_extension(s.get(), const_cast<char*>("MOVE")) != 0;
    bool has_uidplus = mailimap_has_extension(s.get(), const_cast<char*>("UIDPLUS")) != 0;
    bool has_idle = mailimap_has_idle(s.get()) != 0;
    // CREATE fails when it exists already; that is fine.
    mailimap_create(s.get(), c.done_mailbox.c_str());
    check(mailimap_select(s.get(), c.mailbox.c_str()), "SELECT", s.get());
    std::uint32_t validity = s->imap_selection_info ? s->imap_selection_info->sel_uidvalidity : 0;
    std::uint32_t stored_validity = load_validity(store);
    if (stored_validity != validity) {
      if (stored_validity != 0)
        spdlog::warn("imap: UIDVALIDITY of {} changed ({} -> {}); rescanning, duplicates are recognised",
                     c.mailbox, stored_validity, validity);
      save_state(store, validity);
    }
    // Every message still in the mailbox is unfinished: finished ones are
    // moved away. So each pass scans the whole mailbox rather than trusting a
    // remembered UID; a server that reuses UIDs without changing UIDVALIDITY
    // (a recreated mailbox with a cached list index) cannot make us skip mail,
    // and one stored but not yet moved is recognised as a duplicate and moved.
    spdlog::info("imap: connected to {}:{} ({}), mailbox {}, idle={}", c.host, c.port, c.security, c.mailbox,
                 has_idle && c.idle);
    bool rescanned = false;  // the last pass ran without an IDLE before it
    while (!stopping) {
      auto uids = mailbox_uids(s.get());
      std::size_t done = 0;
      for (std::uint32_t uid : uids) {
        if (stopping) return;
        auto failures = fetch_failures.find({validity, uid});
        if (failures != fetch_failures.end() && failures->second >= kMaxFetchFailures) continue;
        std::optional<std::string> raw;
        try {
          raw = fetch_body(s.get(), uid);
        } catch (const Failure&) {
          int n = ++fetch_failures[{validity, uid}];
          if (n >= kMaxFetchFailures)
            spdlog::warn("imap: uid {} not fetched {} times in a row; left in {} and passed over until restart", uid,
                         n, c.mailbox);
          throw;  // the session is likely gone: reconnect
        }
        if (!raw) {
          std::string server = s->imap_response ? s->imap_response : "";
          spdlog::warn("imap: uid {} not fetched{}{}; left in {} and tried again on the next pass", uid,
                       server.empty() ? "" : ": ", server, c.mailbox);
          continue;
        }
        fetch_failures.erase({validity, uid});
        if (!ingest(std::move(*raw), uid)) return;  // reconnect and retry later
        move_done(s.get(), uid, has_move, has_uidplus);
        if (++done % 100 == 0) spdlog::info("imap: {} of {} new messages stored", done, uids.size());
      }
      if (!uids.empty()) save_state(store, validity, uids.back());
      // Passed-over and unfetchable messages were logged above and stay put.
      if (done > 0) spdlog::info("imap: {} new message(s) stored and moved to {}", done, c.done_mailbox);
      if (stopping) return;
      // A message that arrived during the pass was announced (EXISTS) in the
      // reply to one of its commands; IDLE will not announce it again. The
      // count libetpan keeps then exceeds what the pass left behind: look
      // again first. Once only without news, so that a server that never
      // reports its expunges cannot keep us from idling.
      std::uint32_t exists = s->imap_selection_info ? s->imap_selection_info->sel_exists : 0;
      if (exists > uids.size() - done && !(rescanned && done == 0)) {
        rescanned = true;
        continue;
      }
      rescanned = false;
      if (has_idle && c.idle) {
        check(mailimap_idle(s.get()), "IDLE", s.get());
        // An EXISTS that came with the IDLE continuation already sits in a
        // buffer, where poll() cannot see it. Re-issued well before the
        // 29-minute limit of RFC 2177.
        if (!stream_has_buffered_input(s->imap_stream)) wait(25 * 60, mailimap_idle_get_fd(s.get()));
        check(mailimap_idle_done(s.get()), "DONE", s.get());
      } else {
        wait(c.poll_seconds);
        check(mailimap_noop(s.get()), "NOOP", s.get());
      }
    }
    mailimap_logout(s.get());
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
  try {
    impl_->crypto = std::make_unique<Crypto>(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds));
  } catch (const std::exception& e) {
    spdlog::warn("imap: PGP is off: {}", e.what());
  }
  int backoff = 1;
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
