#include "daemon.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <list>
#include <map>
#include <memory>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "checks.hpp"
#include "core/fault_log.hpp"
#include "crypto/crypto.hpp"
#include "store/ingest_writer.hpp"
#include "mail/lmtp.hpp"
#include "imap_poller.hpp"
#include "outbox_worker.hpp"
#include "parse_worker.hpp"
#include "web_server.hpp"
#include "cases/threading.hpp"
#include "mail/address.hpp"

namespace cased {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

// Everything the sessions share, owned by run_daemon.
struct Server {
  Server(const Config& c, asio::io_context& i, asio::thread_pool& p, IngestWriter& w, OutboxWorker& o, std::string h)
      : config(c), io(i), parsers(p), writer(w), outbox(o), hostname(std::move(h)) {}
  const Config& config;  // as started: what the pool, writer and outbox use
  // The latest configuration read (SIGHUP): each new session takes its LMTP
  // limits from it. Read and replaced only on the io thread.
  std::shared_ptr<const Config> live;
  std::optional<ParseWorkerOptions> workers;  // unset: PGP runs on the parser threads themselves
  asio::io_context& io;
  asio::thread_pool& parsers;
  IngestWriter& writer;
  OutboxWorker& outbox;
  std::string hostname;
  std::atomic<bool> stopping{false};
  // gpg-agent did not answer the last PGP message (Errc::unavailable): one
  // message at a time tries it again, the others are deferred at once.
  std::atomic<bool> agent_down{false};
  std::atomic<bool> agent_trial{false};
  int sessions = 0;
  std::map<std::string, int> sessions_per_peer;  // by IP address; unix-socket peers are not counted here
  std::uint64_t next_session = 0;
  // Closes every open session on shutdown; entries remove themselves.
  std::list<std::function<void()>> stoppers;
};

// One GPGME context per parser thread, made on first use. A gpg-agent that
// does not answer when it is made throws CryptoTimeout: made again next time.
Crypto* thread_crypto(Server& server) {
  thread_local std::unique_ptr<Crypto> crypto;
  thread_local bool tried = false;
  if (!tried) {
    try {
      crypto = std::make_unique<Crypto>(server.config.gpg.home, std::chrono::seconds(server.config.gpg.timeout_seconds),
                                        server.config.lmtp.max_message_size);
    } catch (const CryptoTimeout&) {
      throw;
    } catch (const std::exception& e) {
      spdlog::warn("PGP is off on this thread: {}", e.what());
    }
    tried = true;
  }
  return crypto.get();
}

// One parse worker process per parser thread, started on first use.
ParseWorker* thread_worker(Server& server) {
  if (!server.workers) return nullptr;
  thread_local std::unique_ptr<ParseWorker> worker;
  if (!worker) worker = std::make_unique<ParseWorker>(*server.workers);
  return worker.get();
}

PreparedMessage parse_lmtp(LmtpDelivery& job) {
  Envelope env{MessageSource::lmtp, job.mail_from, job.recipients};
  return prepare_message(std::move(job.data), std::move(env), nullptr);
}

// On a pool thread: mail that carries OpenPGP goes to the thread's worker
// process (or, without workers, to the thread's own GPGME context).
Result<PreparedMessage> run_openpgp(Server& server, PreparedMessage parsed) {
  if (ParseWorker* worker = thread_worker(server)) return worker->prepare(std::move(parsed.raw), std::move(parsed.envelope));
  try {
    if (Crypto* crypto = thread_crypto(server))
      return prepare_message(std::move(parsed.raw), std::move(parsed.envelope), crypto);
  } catch (const CryptoTimeout& e) {
    return Error{Errc::unavailable, e.what()};
  }
  return parsed;
}

// A gpg-agent that does not answer is Errc::unavailable (451, retried).
// Each message that meets it holds a parser thread for the gpg time limit,
// so while it is down one message at a time tries it (and finds it back)
// and the others are deferred at once: the pool stays free for other mail,
// and no reply waits for more than one message's time limit.
Result<PreparedMessage> prepare_openpgp(Server& server, PreparedMessage parsed) {
  bool trial = false;
  if (server.agent_down) {
    if (server.agent_trial.exchange(true))
      return Error{Errc::unavailable, "gpg-agent did not answer; another message is trying it again"};
    trial = true;
  }
  Result<PreparedMessage> r = run_openpgp(server, std::move(parsed));
  if (r) {
    server.agent_down = false;
    fault_log().cleared(Errc::unavailable);
  } else if (r.error().code == Errc::unavailable) {
    server.agent_down = true;
  }
  if (trial) server.agent_trial = false;
  return r;
}

// Mail up to this size is parsed on the session's own thread: handing it to
// the pool cost more (waking a pool thread, about 80 us on the reference VM)
// than parsing it (about 80 us for 64 KB). Parsing is linear in the size, and
// the bound keeps the worst mail parsed here short next to other sessions'
// deliveries (the hostile-parse benchmark's worst, about 50 us per KiB, is
// about 5 ms at this bound); larger mail, and all OpenPGP work, stays off
// the event loop. 96 KiB keeps 64 KB mail, a common large size, here
// (docs/benchmarks.md, "Throughput, issue 14").
constexpr std::size_t kParseOnSessionThread = 96 * 1024;

// Parses (here or on the pool), commits on the writer, resumes on the
// session's executor. The result comes back through a timer that is
// cancelled when it is ready: a plain named object, since GCC 12 mishandles
// lambdas with init-captures inside co_await expressions.
struct PendingStore {
  explicit PendingStore(const asio::any_io_executor& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  std::optional<Result<IngestResult>> result;
};

struct PoolJob {
  LmtpDelivery delivery;
  std::optional<PreparedMessage> parsed;  // set when parsed on the session's thread
};

awaitable<Result<IngestResult>> store_message(Server& server, LmtpDelivery delivery) {
  auto executor = co_await asio::this_coro::executor;
  auto pending = std::make_shared<PendingStore>(executor);
  auto reply = [pending](Result<IngestResult> r) {
    asio::post(pending->timer.get_executor(), [pending, r = std::move(r)]() mutable {
      pending->result = std::move(r);
      pending->timer.cancel();
    });
  };
  // A crash in parsing must not lose the message: 451, and the MTA retries.
  auto parse_failed = [](const std::exception& e) { return Error{Errc::temporary, fmt::format("parse failed: {}", e.what())}; };
  auto job = std::make_shared<PoolJob>();
  job->delivery = std::move(delivery);
  bool to_pool = true;
  if (job->delivery.data.size() <= kParseOnSessionThread) {
    try {
      job->parsed = parse_lmtp(job->delivery);
      if (!Crypto::has_openpgp(job->parsed->parsed)) {
        server.writer.submit(std::move(*job->parsed), reply);
        to_pool = false;
      }
    } catch (const std::exception& e) {
      reply(parse_failed(e));
      to_pool = false;
    }
  }
  if (to_pool) {
    asio::post(server.parsers, [&server, job, reply, parse_failed] {
      try {
        PreparedMessage parsed = job->parsed ? std::move(*job->parsed) : parse_lmtp(job->delivery);
        Result<PreparedMessage> prepared = Crypto::has_openpgp(parsed.parsed)
                                               ? prepare_openpgp(server, std::move(parsed))
                                               : Result<PreparedMessage>(std::move(parsed));
        if (prepared) server.writer.submit(std::move(prepared.value()), reply);
        else reply(prepared.error());
      } catch (const std::exception& e) {
        reply(parse_failed(e));
      }
    });
  }
  asio::error_code ec;
  while (!pending->result) co_await pending->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  co_return std::move(*pending->result);
}

// Calls `on_idle` once a session has waited `limit` for its client without
// hearing from it, or is waiting for it past a deadline (the end of a
// transaction, however often the client sends a byte). One timer per
// session, re-armed only when it fires or the deadline moves earlier: a
// timer raced against every read cost a timerfd_settime and a cancelled
// wait per read, several per message. Lives on the session's one thread.
class IdleWatch {
 public:
  IdleWatch(const asio::any_io_executor& ex, Clock::duration limit, Clock::duration transaction_limit,
            std::function<void()> on_idle)
      : state_(std::make_shared<State>(ex, limit, std::move(on_idle))), transaction_limit_(transaction_limit) {
    arm(state_);
  }
  ~IdleWatch() {
    state_->ended = true;
    state_->timer.cancel();
  }
  IdleWatch(const IdleWatch&) = delete;
  IdleWatch& operator=(const IdleWatch&) = delete;

  // Waiting for the client (the clock runs) or not (a commit is under way).
  void waiting(bool yes) {
    state_->waiting = yes;
    state_->last = Clock::now();
    // It fired as the client's bytes arrived: they were read, so watch on.
    if (yes && state_->fired) {
      state_->fired = false;
      arm(state_);
    }
  }
  bool waiting() const { return state_->waiting; }
  bool fired() const { return state_->fired; }

  // Before a read: is a command or a transaction under way
  // (LmtpSession::busy())? One must end within the transaction limit of
  // its start, however often the client sends a byte.
  void transaction(bool busy) {
    if (!busy) {
      busy_since_.reset();
      deadline(Clock::time_point::max());
    } else if (!busy_since_) {
      busy_since_ = Clock::now();
      deadline(*busy_since_ + transaction_limit_);
    }
  }
  // A delivery finished: the next transaction, pipelined or not, gets its own time.
  void transaction_done() { busy_since_.reset(); }
  // It fired because a transaction ran out of time (not for idling).
  bool transaction_expired() const { return busy_since_ && Clock::now() >= state_->deadline; }

 private:
  struct State {
    State(const asio::any_io_executor& ex, Clock::duration l, std::function<void()> f)
        : timer(ex), limit(l), on_idle(std::move(f)), last(Clock::now()) {}
    asio::steady_timer timer;
    Clock::duration limit;
    std::function<void()> on_idle;
    Clock::time_point last;
    Clock::time_point deadline = Clock::time_point::max();
    bool waiting = false, fired = false, ended = false;
    Clock::time_point due() const { return std::min(last + limit, deadline); }
  };
  // A wait for the client ends at `at` at the latest (time_point::max(): none).
  void deadline(Clock::time_point at) {
    bool earlier = at < state_->deadline;
    state_->deadline = at;
    // The pending wait is cancelled; its handler re-arms for the new time.
    if (earlier && !state_->fired) state_->timer.cancel();
  }
  static void arm(const std::shared_ptr<State>& s) {
    s->timer.expires_at(s->due());
    s->timer.async_wait([s](const asio::error_code&) {
      if (s->ended) return;
      if (s->waiting && Clock::now() >= s->due()) {
        s->fired = true;
        s->on_idle();
        return;
      }
      arm(s);
    });
  }
  std::shared_ptr<State> state_;
  Clock::duration transaction_limit_;
  std::optional<Clock::time_point> busy_since_;
};

// Stores one complete message and gives the session its replies.
awaitable<void> store_and_answer(Server& server, LmtpSession& session, LmtpDelivery delivery, std::string queue_id) {
  auto started = Clock::now();
  std::size_t size = delivery.data.size();
  std::size_t rcpts = delivery.recipients.size();
  Result<IngestResult> r = co_await store_message(server, std::move(delivery));
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (r) {
    fault_log().cleared(Errc::full);
    fault_log().cleared(Errc::busy);
    spdlog::info("delivered queue={} case={} message={} size={} rcpts={} new_case={} duplicate={} ms={:.1f}", queue_id,
                 r->case_id, r->message, size, rcpts, r->new_case, r->duplicate, ms);
    if (r->ack_capped)
      spdlog::warn("case={}: not acknowledged: its sender had the day's acknowledgements (ack.per_sender_per_day)",
                   r->case_id);
    if (r->ack_busy)
      spdlog::warn("case={}: not acknowledged: the hour's acknowledgements were sent (ack.per_hour)", r->case_id);
    session.complete_delivery(
        {LmtpOutcome{250, "2.0.0", fmt::format("stored as message {} in case {}", r->message, r->case_id)}});
    if (r->new_case) server.outbox.wake();  // an acknowledgement may be due
  } else {
    LmtpOutcome outcome = outcome_for(r.error());
    // A full disk, a locked database or a hung gpg-agent: one line for the
    // fault (core/fault_log.hpp), then one per message only at debug level.
    bool lasting = is_lasting_fault(r.error().code);
    if (lasting)
      fault_log().failed(r.error(), fmt::format("deliveries get {} {} and the MTA retries them", outcome.code,
                                                outcome.enhanced));
    spdlog::log(lasting ? spdlog::level::debug : spdlog::level::warn, "{} queue={} size={} ms={:.1f}: {} {}: {}",
                outcome.code < 500 ? "deferred" : "rejected", queue_id, size, ms, outcome.code, outcome.enhanced,
                r.error().message);
    session.complete_delivery({outcome});
  }
}

// The first words to a new session: the greeting, or 421 when the daemon
// stops or the session is one too many (in all, or from its address).
std::string admit(Server& server, const LmtpConfig& c, LmtpSession& session, int from_peer, std::uint64_t id,
                  const std::string& peer) {
  if (server.stopping) {  // accepted just before the listeners closed
    session.shutdown("shutting down");
  } else if (server.sessions > c.max_sessions) {
    session.shutdown("too many sessions, try again later");
  } else if (from_peer > c.max_sessions_per_peer) {
    spdlog::info("session {} from {}: refused, {} sessions from that address", id, peer, from_peer - 1);
    session.shutdown("too many sessions from your address, try again later");
  } else {
    return session.greeting();
  }
  return session.take_output();
}

template <class Socket>
awaitable<void> write_all(Socket& socket, std::string& out) {
  if (out.empty()) co_return;
  co_await asio::async_write(socket, asio::buffer(out), use_awaitable);
  out.clear();
}

template <class Socket>
awaitable<void> run_session(Server& server, Socket socket, std::string peer, std::string peer_key) {
  std::uint64_t id = ++server.next_session;
  ++server.sessions;
  int from_peer = peer_key.empty() ? 0 : ++server.sessions_per_peer[peer_key];
  const std::shared_ptr<const Config> config = server.live;  // this session's settings, whatever a reload does
  LmtpLimits limits;
  limits.max_message_size = config->lmtp.max_message_size;
  const std::string alias = server.config.case_.alias;
  LmtpSession session(server.hostname, limits, [&alias](std::string_view rcpt) { return match_alias(rcpt, alias).ours; });
  // Both the idle limit and a stop end a wait for the client by cancelling
  // the read. A commit or a write under way finishes first.
  IdleWatch idle(socket.get_executor(), std::chrono::seconds(config->lmtp.idle_timeout_seconds),
                 std::chrono::seconds(config->lmtp.transaction_timeout_seconds), [&] {
                   asio::error_code ignored;
                   socket.cancel(ignored);
                 });
  bool stop_requested = false;
  auto self = server.stoppers.insert(server.stoppers.end(), [&] {
    stop_requested = true;
    asio::error_code ignored;
    if (idle.waiting()) socket.cancel(ignored);
  });

  std::string out;
  std::array<char, 16384> buf;
  int transaction = 0;
  try {
    out = admit(server, config->lmtp, session, from_peer, id, peer);
    for (;;) {
      out += session.take_output();
      while (auto delivery = session.take_delivery()) {
        co_await write_all(socket, out);  // flush replies pipelined before DATA
        co_await store_and_answer(server, session, std::move(*delivery), fmt::format("{}.{}", id, ++transaction));
        out += session.take_output();
        idle.transaction_done();
      }
      if (stop_requested && !session.closed()) {
        session.shutdown("shutting down");
        out += session.take_output();
      }
      co_await write_all(socket, out);
      if (session.closed()) break;
      // A stop that came while the write was pending found no read to cancel.
      if (stop_requested) continue;

      idle.transaction(session.busy());
      asio::error_code read_ec;
      idle.waiting(true);
      std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, read_ec));
      idle.waiting(false);
      if (read_ec == asio::error::operation_aborted && (stop_requested || idle.fired())) {
        if (stop_requested) continue;  // loop top answers 421
        if (idle.transaction_expired()) {
          spdlog::info("session {} from {}: transaction timeout", id, peer);
          session.transaction_timeout();
        } else {
          spdlog::info("session {} from {}: idle timeout", id, peer);
          session.timeout();
        }
        continue;
      }
      if (read_ec) throw asio::system_error(read_ec);
      session.feed(std::string_view(buf.data(), n));
    }
  } catch (const asio::system_error& e) {
    if (e.code() != asio::error::eof && e.code() != asio::error::operation_aborted)
      spdlog::info("session {} from {}: {}", id, peer, e.code().message());
    if (session.in_data()) spdlog::info("session {} from {}: client left during DATA; nothing stored", id, peer);
  } catch (const std::exception& e) {
    spdlog::error("session {} from {}: dropped: {}", id, peer, e.what());
  }
  server.stoppers.erase(self);
  --server.sessions;
  if (!peer_key.empty() && --server.sessions_per_peer[peer_key] <= 0) server.sessions_per_peer.erase(peer_key);
  asio::error_code ignored;
  socket.shutdown(Socket::shutdown_both, ignored);
  socket.close(ignored);
}

template <class Acceptor>
awaitable<void> accept_loop(Server& server, Acceptor& acceptor, std::string name) {
  for (;;) {
    asio::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || server.stopping) co_return;
      spdlog::warn("accept on {}: {}", name, ec.message());
      continue;
    }
    std::string peer = name;
    std::string peer_key;  // the IP address; unix-socket sessions count only globally
    if constexpr (std::is_same_v<Acceptor, asio::ip::tcp::acceptor>) {
      asio::error_code pe;
      auto ep = socket.remote_endpoint(pe);
      if (!pe) {
        peer_key = ep.address().to_string();
        peer = fmt::format("{}:{}", peer_key, ep.port());
      }
    }
    asio::co_spawn(server.io, run_session(server, std::move(socket), peer, peer_key), asio::detached);
  }
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !*buf) return "localhost";
  return buf;
}

// The parse workers' options, or none when PGP is off. Learns the alias's
// own keys now: listing secret keys asks gpg-agent, and the workers'
// contexts reuse the answer instead of asking it later.
std::optional<ParseWorkerOptions> parse_workers(const Config& config) {
  std::optional<ParseWorkerOptions> workers;
  try {
    std::vector<std::string> own_keys;
    try {
      own_keys = Crypto(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds)).own_fingerprints();
      std::error_code ec;
      // A missing gpg.home was named by the start-up checks already.
      if (own_keys.empty() && std::filesystem::is_directory(config.gpg.home, ec))
        spdlog::warn("gpg.home: {}: no secret key; encrypted reports cannot be read", config.gpg.home);
    } catch (const CryptoTimeout& e) {
      // Start anyway: plain mail flows, and the workers list the keys once the agent answers.
      fault_log().failed(Error{Errc::unavailable, e.what()}, "PGP mail gets 451 4.3.0 and the MTA retries it");
    }
    // Started with exec of this very binary (parse_worker.hpp), which
    // /proc/self/exe still names after a package upgrade replaced the file.
    if (::access("/proc/self/exe", X_OK) == 0)
      workers = ParseWorkerOptions{"/proc/self/exe", config.gpg.home, config.gpg.timeout_seconds,
                                   config.lmtp.max_message_size, std::move(own_keys)};
    else
      spdlog::warn("no /proc/self/exe: PGP mail is decrypted on the parser threads");
  } catch (const std::exception& e) {
    spdlog::warn("PGP is off: {}", e.what());
  }
  return workers;
}

// SIGHUP: reads the configuration again. A valid one is what new sessions
// use; an invalid one is logged and the old one kept.
void reload(Server& server, const std::function<Result<Config>()>& load) {
  sd_notify(0, "RELOADING=1");
  spdlog::info("signal {}: reading the configuration again", SIGHUP);
  Result<Config> next = load();
  std::vector<Problem> problems;
  if (next) problems = check_config(*next, false);
  auto fatal = std::find_if(problems.begin(), problems.end(), [](const Problem& p) { return p.fatal; });
  if (!next || fatal != problems.end()) {
    spdlog::error("reload refused, the running configuration stays: {}", next ? fatal->text : next.error().message);
  } else {
    for (const auto& p : problems) spdlog::warn("{}", p.text);
    std::vector<std::string> later = restart_keys(*server.live, *next);
    if (!later.empty())
      spdlog::warn("reload: {} changed; that takes effect only when cased restarts", fmt::join(later, ", "));
    server.live = std::make_shared<const Config>(std::move(*next));
    spdlog::info("reload: configuration {} in effect for new sessions", server.live->source);
  }
  sd_notify(0, "READY=1");
}

template <class Signals>
void on_hangup(Server& server, Signals& hup, const std::function<Result<Config>()>& load) {
  hup.async_wait([&server, &hup, &load](const asio::error_code& ec, int) {
    if (ec || server.stopping) return;
    reload(server, load);
    on_hangup(server, hup, load);
  });
}

}  // namespace

int run_daemon(const Config& config, const std::function<Result<Config>()>& load) {
  std::vector<ListenAddress> addresses;
  for (const auto& spec : config.lmtp.listen) {
    auto a = parse_listen(spec);
    if (!a) throw std::runtime_error(a.error().message);
    addresses.push_back(*a);
  }

  std::optional<ParseWorkerOptions> workers = parse_workers(config);
  IngestWriter writer(config.case_.database, store_options(config, config.ack.enabled));
  OutboxWorker outbox(config);
  asio::io_context io(1);
  asio::thread_pool parsers(std::max(2u, std::thread::hardware_concurrency()));
  Server server(config, io, parsers, writer, outbox, host_name());
  server.workers = std::move(workers);
  server.live = std::make_shared<const Config>(config);

  std::list<asio::ip::tcp::acceptor> tcp_acceptors;
  std::list<asio::local::stream_protocol::acceptor> unix_acceptors;
  std::unique_ptr<ImapPoller> imap;
  std::unique_ptr<WebServer> web;  // [web]: the report form, on threads of its own
  // Handled before the first listener opens: a supervisor that sees the
  // port may send SIGTERM at once, and it must not meet the default action.
  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::signal_set hup(io, SIGHUP);
  on_hangup(server, hup, load);
  signals.async_wait([&](const asio::error_code& ec, int signo) {
    if (ec) return;
    sd_notify(0, "STOPPING=1");
    spdlog::info("signal {}: stopping; {} session(s) open", signo, server.sessions);
    server.stopping = true;
    hup.cancel();
    asio::error_code ignored;
    for (auto& acc : tcp_acceptors) acc.close(ignored);
    for (auto& acc : unix_acceptors) acc.close(ignored);
    for (auto& stop : server.stoppers) stop();
    if (imap) imap->stop();
    if (web) web->stop();
  });
  ::signal(SIGPIPE, SIG_IGN);
  for (const auto& a : addresses) {
    if (a.unix_socket) {
      std::error_code fec;
      // A stale socket from an earlier run is replaced; any other file is not.
      if (std::filesystem::is_socket(a.path, fec)) std::filesystem::remove(a.path, fec);
      auto& acc = unix_acceptors.emplace_back(io, asio::local::stream_protocol::endpoint(a.path));
      // The MTA runs as another user; the directory (systemd RuntimeDirectory) guards access.
      ::chmod(a.path.c_str(), 0666);
      asio::co_spawn(io, accept_loop(server, acc, "unix:" + a.path), asio::detached);
      spdlog::info("listening for LMTP on unix:{}", a.path);
    } else {
      auto& acc = tcp_acceptors.emplace_back(io);
      acc.open(a.endpoint.protocol());
      acc.set_option(asio::socket_base::reuse_address(true));
      if (a.endpoint.address().is_v6()) acc.set_option(asio::ip::v6_only(true));
      acc.bind(a.endpoint);
      acc.listen(asio::socket_base::max_listen_connections);
      asio::co_spawn(io, accept_loop(server, acc, a.endpoint.address().to_string()), asio::detached);
      spdlog::info("listening for LMTP on {}:{}", a.endpoint.address().to_string(), a.endpoint.port());
    }
  }
  if (config.imap) imap = std::make_unique<ImapPoller>(config, writer, outbox);
  if (config.web)
    web = std::make_unique<WebServer>(config, writer, [&outbox](const IngestResult& r) {
      if (r.new_case) outbox.wake();  // an acknowledgement may be due
    });

  spdlog::info("cased {} ready: database {}", CASED_VERSION, config.case_.database);
  sd_notify(0, "READY=1");  // Type=notify: systemd starts what waits for cased only now
  io.run();
  web.reset();  // its requests under way finish on the writer first
  parsers.join();
  writer.stop();
  outbox.stop();
  for (const auto& a : addresses)
    if (a.unix_socket) ::unlink(a.path.c_str());
  spdlog::info("stopped after {} message(s) in {} commit(s)", writer.messages(), writer.batches());
  return 0;
}

}  // namespace cased
