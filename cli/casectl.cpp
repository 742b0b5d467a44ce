// casectl: the analysts' tool. A thin shell over libcased: parse arguments,
// open the store, call one function, print with output.cpp.
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ext/stdio_filebuf.h>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "mail/address.hpp"
#include "core/config.hpp"
#include "crypto/crypto.hpp"
#include "report/digest.hpp"
#include "invoker.hpp"
#include "outbound/outbox.hpp"
#include "cvd/securitytxt.hpp"
#include "core/text.hpp"
#include "cases/threading.hpp"
#include "mail/mbox.hpp"
#include "output.hpp"
#include "store/store.hpp"
#include "core/text.hpp"
#include "core/util.hpp"

namespace {

using namespace cased;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoCase = 3;
constexpr const char* kDefaultConfig = "/etc/cased/cased.toml";

// Ends the command with a message on stderr and an exit status.
struct Exit {
  int code;
  std::string message;
};

[[noreturn]] void fail(int code, std::string message) { throw Exit{code, std::move(message)}; }

int exit_code(const Error& e) {
  return e.code == Errc::not_found ? kExitNoCase : kExitFailure;
}

template <class T>
T check(Result<T> r) {
  if (!r) fail(exit_code(r.error()), r.error().message);
  return std::move(r.value());
}

// Who typed the command (invoker.hpp): set once in run().
cli::Invoker g_invoker;

// A file named on the command line, read with the invoking user's rights.
std::string read_file(const std::string& path) { return check(cli::read_as_invoker(g_invoker, path)); }

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), {});
}

// contract: "Who acts": the user name of the effective uid.
std::string current_user() {
  if (const passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return fmt::format("uid{}", geteuid());
}

struct Context {
  std::string config_path;
  bool json = false;
  Config config;
  std::string actor;
  cli::TextStyle style;

  void load() {
    auto text = [&] {
      std::ifstream in(config_path, std::ios::binary);
      if (!in) fail(kExitFailure, fmt::format("cannot read configuration {}", config_path));
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    config = check(parse_config(text, config_path));
    actor = g_invoker.via_sudo ? g_invoker.user : current_user();
    style.tag = config.case_.tag;
    style.color = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  }

  Store store(bool acknowledge = false) {
    return check(Store::open(config.case_.database, store_options(config, acknowledge && config.ack.enabled)));
  }

  // Replies and the digest cannot go out without the alias key.
  std::unique_ptr<Crypto> required_crypto() {
    try {
      return std::make_unique<Crypto>(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds));
    } catch (const std::exception& e) {
      fail(kExitFailure, fmt::format("cannot use gpg.home {}: {}", config.gpg.home, e.what()));
    }
  }

  // The alias keyring, when gpg.home exists; without it mail is stored undecrypted.
  std::unique_ptr<Crypto> crypto() {
    if (access(config.gpg.home.c_str(), R_OK | X_OK) != 0) {
      std::cerr << fmt::format("casectl: warning: gpg.home {} is not readable; PGP mail stays undecrypted\n",
                               config.gpg.home);
      return nullptr;
    }
    try {
      // Decrypted content is bounded by the message size limit, as over LMTP.
      return std::make_unique<Crypto>(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds),
                                      config.lmtp.max_message_size);
    } catch (const std::exception& e) {
      std::cerr << fmt::format("casectl: warning: {}; PGP mail stays undecrypted\n", e.what());
      return nullptr;
    }
  }
};

// Text from old rows or hostile mail may not be UTF-8: print U+FFFD, never throw.
void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::int64_t parse_case_id(const std::string& text, const std::string& tag) {
  std::string t = text;
  // Accept 42, #42, CASE#42 and [CASE#42].
  if (!t.empty() && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  if (iequals(t.substr(0, std::min(t.size(), tag.size())), tag)) t = t.substr(tag.size());
  if (!t.empty() && t.front() == '#') t = t.substr(1);
  try {
    std::size_t used = 0;
    long long v = std::stoll(t, &used);
    if (used == t.size() && v > 0) return v;
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
  }
  fail(kExitUsage, fmt::format("not a case id: '{}'", text));
}

int cmd_init(Context& ctx) {
  Store s = ctx.store();
  if (ctx.json) print_json({{"database", ctx.config.case_.database}, {"schema_version", s.schema_version()}});
  else std::cout << fmt::format("database {} is at schema version {}\n", ctx.config.case_.database, s.schema_version());
  return 0;
}

void print_ingest(const Context& ctx, const IngestResult& r) {
  if (ctx.json) return print_json(cli::to_json(r));
  std::string tag = fmt::format("[{}#{}]", ctx.config.case_.tag, r.case_id);
  if (r.duplicate) std::cout << fmt::format("already stored as message {} in {}\n", r.message, tag);
  else if (r.new_case) std::cout << fmt::format("stored as message {}, new case {}\n", r.message, tag);
  else std::cout << fmt::format("stored as message {} in {}\n", r.message, tag);
}

// What was just stored joins the search index now rather than at the next
// search. It is stored either way: a failure here is only a warning.
void index_for_search(Store& s, const std::vector<IndexText>& known = {}) {
  if (auto indexed = s.index_pending(known); !indexed)
    std::cerr << "casectl: not yet in the search index (the next search adds it): " << indexed.error().message << "\n";
}

// An empty input (or only blank lines) is no message: a usage error, and
// nothing is stored.
bool blank_input(std::string_view raw) {
  return raw.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

int cmd_ingest(Context& ctx, const std::string& file, const std::string& mbox) {
  std::string raw;
  if (mbox.empty()) {
    raw = file.empty() || file == "-" ? read_stdin() : read_file(file);
    if (blank_input(raw)) fail(kExitUsage, "ingest: the input is empty; give one RFC 5322 message (nothing stored)");
  }
  // A backfill of old mail acknowledges nothing; one message is treated as LMTP would.
  Store s = ctx.store(mbox.empty());
  auto crypto = ctx.crypto();
  if (!mbox.empty()) {
    std::optional<__gnu_cxx::stdio_filebuf<char>> mbox_file;
    if (mbox != "-") mbox_file.emplace(check(cli::open_as_invoker(g_invoker, mbox)), std::ios::in | std::ios::binary);
    std::istream in(mbox_file ? &*mbox_file : std::cin.rdbuf());
    std::vector<PreparedMessage> batch;
    std::size_t stored = 0, new_cases = 0, duplicates = 0, failed = 0;
    auto commit = [&] {
      auto results = check(s.ingest(batch));
      for (auto& r : results) {
        if (!r) {
          ++failed;
          std::cerr << "casectl: a message could not be stored: " << r.error().message << "\n";
          continue;
        }
        ++stored;
        new_cases += r->new_case;
        duplicates += r->duplicate;
      }
      batch.clear();
    };
    std::size_t seen = read_mbox(in, [&](std::string&& one) {
      batch.push_back(prepare_message(std::move(one), Envelope{MessageSource::ingest, std::nullopt, {}}, crypto.get()));
      if (batch.size() >= 500) commit();
      return true;
    });
    commit();
    index_for_search(s);
    if (ctx.json)
      print_json({{"messages", seen}, {"stored", stored}, {"new_cases", new_cases}, {"duplicates", duplicates},
                  {"failed", failed}});
    else
      std::cout << fmt::format("{} messages read: {} stored ({} duplicates), {} new cases, {} failed\n", seen, stored,
                               duplicates, new_cases, failed);
    return failed ? kExitFailure : 0;
  }
  std::vector<PreparedMessage> batch;
  batch.push_back(prepare_message(std::move(raw), Envelope{MessageSource::ingest, std::nullopt, {}}, crypto.get()));
  auto results = check(s.ingest(batch));
  IngestResult r = check(std::move(results.at(0)));
  // Indexed from the text in hand, not read back from the database; the
  // raw message is let go first.
  std::vector<IndexText> known;
  if (!r.duplicate) {
    ParsedMessage& pm = batch[0].parsed;
    known.push_back(IndexText{r.message, std::move(pm.subject), std::move(pm.body)});
  }
  batch.clear();
  index_for_search(s, known);
  print_ingest(ctx, r);
  return 0;
}

int cmd_list(Context& ctx, const CaseFilter& filter) {
  Store s = ctx.store();
  auto cases = check(s.list_cases(filter));
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : cases) arr.push_back(cli::to_json(c));
    print_json(arr);
  } else {
    std::cout << cli::render_list(cases, ctx.style);
  }
  return 0;
}

int cmd_show(Context& ctx, const std::string& id) {
  Store s = ctx.store();
  CaseDetail d = check(s.get_case(parse_case_id(id, ctx.config.case_.tag)));
  if (ctx.json) print_json(cli::to_json(d));
  else std::cout << cli::render_case(d, ctx.style);
  return 0;
}

int cmd_assign(Context& ctx, const std::string& id, const std::string& user) {
  const auto& analysts = ctx.config.case_.analysts;
  if (!analysts.empty() && std::find(analysts.begin(), analysts.end(), user) == analysts.end())
    fail(kExitFailure, fmt::format("'{}' is not one of case.analysts", user));
  Store s = ctx.store();
  auto case_id = parse_case_id(id, ctx.config.case_.tag);
  check(s.assign(case_id, user, ctx.actor));
  if (!ctx.json) std::cout << fmt::format("[{}#{}] assigned to {}\n", ctx.config.case_.tag, case_id, user);
  return 0;
}

std::string message_text(const std::string& text, const std::string& file) {
  if (!text.empty() && !file.empty()) fail(kExitUsage, "give either -m or -F, not both");
  if (!file.empty()) return file == "-" ? read_stdin() : read_file(file);
  if (text.empty()) fail(kExitUsage, "give the text with -m TEXT or -F FILE");
  return text;
}

int cmd_comment(Context& ctx, const std::string& id, const std::string& text, const std::string& file) {
  std::string body = message_text(text, file);
  Store s = ctx.store();
  auto case_id = parse_case_id(id, ctx.config.case_.tag);
  check(s.add_comment(case_id, body, ctx.actor));
  if (!ctx.json) std::cout << fmt::format("comment added to [{}#{}]\n", ctx.config.case_.tag, case_id);
  return 0;
}

int cmd_status(Context& ctx, const std::string& id, const std::string& state) {
  Store s = ctx.store();
  auto case_id = parse_case_id(id, ctx.config.case_.tag);
  check(s.set_status(case_id, state, ctx.actor));
  if (!ctx.json) std::cout << fmt::format("[{}#{}] is {}\n", ctx.config.case_.tag, case_id, state);
  return 0;
}

int cmd_set(Context& ctx, const std::string& id, const DisclosureChange& change) {
  if (change.empty()) fail(kExitUsage, "set: nothing to change (--embargo, --cve, --no-cve, --product, --versions, --cvss)");
  // A bad date, CVE id or vector is the caller's mistake: a usage error.
  if (auto valid = validate(change); !valid) fail(kExitUsage, valid.error().message);
  Store s = ctx.store();
  auto case_id = parse_case_id(id, ctx.config.case_.tag);
  auto changes = check(s.set_disclosure(case_id, change, ctx.actor));
  auto detail = check(s.get_case(case_id));
  if (ctx.json) {
    print_json(cli::to_json(detail.disclosure));
    return 0;
  }
  if (changes.empty()) std::cout << fmt::format("[{}#{}] unchanged\n", ctx.config.case_.tag, detail.summary.id);
  for (const auto& c : changes) std::cout << fmt::format("[{}#{}] {}\n", ctx.config.case_.tag, detail.summary.id, c);
  return 0;
}

int cmd_search(Context& ctx, const std::string& query) {
  Store s = ctx.store();
  auto hits = check(s.search(query));
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& h : hits) {
      auto j = cli::to_json(h.summary);
      j["snippet"] = h.snippet;
      arr.push_back(j);
    }
    print_json(arr);
  } else {
    std::cout << cli::render_search(hits, ctx.style);
  }
  return 0;
}

// Addresses for the terminal: whatever a sender or a server put in them is shown inert.
std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + clip(x, 200);
  return out;
}

// An address an analyst typed: one addr-spec, or a usage error before anything is done.
std::string analyst_address(const std::string& address) {
  std::string addr = normalize_address(address);
  if (!valid_addr_spec(addr)) fail(kExitUsage, fmt::format("not an address: '{}'", display_safe(address)));
  return addr;
}

// Sends `id` once now; prints what happened. Returns the exit status.
int try_send(Context& ctx, Outbox& outbox, std::int64_t id, const std::string& what) {
  if (!ctx.config.smtp) {
    std::cout << fmt::format("{} queued (outbox {}); not sent: the configuration has no [smtp] section\n", what, id);
    return 0;
  }
  auto attempts = outbox.send_due(ctx.config.smtp, id);
  if (attempts.empty()) {
    std::cout << fmt::format("{} queued (outbox {}); the daemon will send it\n", what, id);
    return 0;
  }
  const auto& a = attempts.front();
  if (a.status == SendStatus::sent) {
    std::cout << fmt::format("{} sent (outbox {})\n", what, id);
    return 0;
  }
  if (a.status == SendStatus::failed) {
    std::cout << fmt::format("{} FAILED (outbox {}): {}\n", what, id, clip(a.error, 500));
    return kExitFailure;
  }
  std::cout << fmt::format("{} queued (outbox {}), not sent yet: {}; it will be retried\n", what, id, clip(a.error, 500));
  return 0;
}

int cmd_reply(Context& ctx, const std::string& id, const std::string& text, const std::string& file,
              const std::vector<std::string>& to, bool sign_only) {
  std::vector<std::string> recipients;
  for (const auto& t : to) recipients.push_back(analyst_address(t));
  std::string body = message_text(text, file);
  Store s = ctx.store();
  auto crypto = ctx.required_crypto();
  Outbox outbox(s, *crypto, outbox_options(ctx.config));
  ReplyRequest req{parse_case_id(id, ctx.config.case_.tag), body, recipients, sign_only, ctx.actor};
  Queued q = check(outbox.queue_reply(req));
  std::string what = fmt::format("reply to {} ({})", join(q.to), q.encrypted ? "signed, encrypted" : "signed only");
  return try_send(ctx, outbox, q.outbox_id, what);
}

int cmd_outbox(Context& ctx, const std::string& action, const std::string& id) {
  Store s = ctx.store();
  if (action == "retry") {
    auto crypto = ctx.required_crypto();
    Outbox outbox(s, *crypto, outbox_options(ctx.config));
    std::int64_t n = parse_case_id(id, "");
    check(outbox.retry(n));
    return try_send(ctx, outbox, n, fmt::format("outbox {}", n));
  }
  if (!action.empty()) fail(kExitUsage, fmt::format("unknown outbox action '{}' (retry ID)", action));
  // Listing needs no key.
  auto rows = check(list_outbox(s));
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : rows)
      arr.push_back({{"id", r.id},
                     {"case", r.case_id ? nlohmann::json(*r.case_id) : nlohmann::json(nullptr)},
                     {"kind", r.kind},
                     {"status", std::string(to_string(r.status))},
                     {"to", r.to},
                     {"subject", r.subject},
                     {"attempts", r.attempts},
                     {"last_error", r.last_error ? nlohmann::json(*r.last_error) : nlohmann::json(nullptr)},
                     {"created", format_rfc3339(r.created)},
                     {"sent", r.sent ? nlohmann::json(format_rfc3339(*r.sent)) : nlohmann::json(nullptr)}});
    print_json(arr);
    return 0;
  }
  if (rows.empty()) {
    std::cout << "outbox is empty\n";
    return 0;
  }
  std::cout << fmt::format("{:>4}  {:<10} {:<7} {:<6} {:>3}  {}\n", "ID", "CASE", "STATUS", "KIND", "TRY", "TO / LAST ERROR");
  for (const auto& r : rows) {
    std::string c = r.case_id ? fmt::format("{}#{}", ctx.config.case_.tag, *r.case_id) : "-";
    std::cout << fmt::format("{:>4}  {:<10} {:<7} {:<6} {:>3}  {}\n", r.id, c, to_string(r.status), r.kind, r.attempts, join(r.to));
    if (r.last_error && r.status != SendStatus::sent) std::cout << fmt::format("{:>36}{}\n", "", clip(*r.last_error, 500));
  }
  return 0;
}

int cmd_digest(Context& ctx, bool send) {
  Store s = ctx.store();
  int stale_days = ctx.config.digest ? ctx.config.digest->stale_days : 7;
  Digest d = check(build_digest(s, stale_days));
  if (auto w = securitytxt_expiry_warning(ctx.config, d.now)) d.warnings.push_back(*w);
  const std::string& tag = ctx.config.case_.tag;
  if (!send) {
    if (ctx.json) print_json(digest_json(d));
    else std::cout << render_digest(d, tag);
    return 0;
  }
  // What --send prints goes to cron's mail: tags, states and ages only.
  std::cout << render_digest_bare(d, tag);
  if (!ctx.config.digest || ctx.config.digest->to.empty()) fail(kExitFailure, "digest --send needs digest.to");
  if (d.empty()) return 0;
  auto crypto = ctx.required_crypto();
  Outbox outbox(s, *crypto, outbox_options(ctx.config));
  Queued q = check(outbox.queue_digest(ctx.config.digest->to, render_digest(d, tag), render_digest_bare(d, tag)));
  return try_send(ctx, outbox, q.outbox_id,
                  fmt::format("digest to {} ({})", ctx.config.digest->to, q.encrypted ? "encrypted" : "signed, bare"));
}

int cmd_securitytxt(Context& ctx, bool sign) {
  std::int64_t now = now_unix();
  if (securitytxt_expires(ctx.config, now) <= now)
    fail(kExitFailure, "securitytxt.expires is in the past: set a later date (or remove it to use expires_days)");
  if (auto w = securitytxt_expiry_warning(ctx.config, now)) std::cerr << "casectl: warning: " << *w << "\n";
  std::string text = render_securitytxt(ctx.config, now);
  if (!sign) {
    std::cout << text;
    return 0;
  }
  auto crypto = ctx.required_crypto();
  auto key = check(crypto->signing_key(ctx.config.gpg.signing_key, ctx.config.case_.alias));
  std::cout << check(crypto->clearsign(text, key.fingerprint));
  return 0;
}

int cmd_participant(Context& ctx, const std::string& id, const std::string& address, const std::string& role) {
  std::string addr = analyst_address(address);
  Store s = ctx.store();
  auto case_id = parse_case_id(id, ctx.config.case_.tag);
  check(s.add_participant(case_id, addr, role, ctx.actor));
  if (!ctx.json)
    std::cout << fmt::format("{} is a verified {} of [{}#{}]\n", addr, role, ctx.config.case_.tag,
                             s.resolve_case(case_id).value_or(case_id));
  return 0;
}

int cmd_keys(Context& ctx, const std::string& action, const std::vector<std::string>& args, bool binary) {
  Store s = ctx.store();
  auto crypto = ctx.required_crypto();
  auto& db = s.db();
  if (action == "pin") {
    if (args.size() != 2) fail(kExitUsage, "usage: casectl keys pin ADDR FINGERPRINT");
    std::string addr = analyst_address(args[0]);
    std::string fpr;
    for (char c : args[1])
      if (c != ' ') fpr += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto key = crypto->find_key(fpr);
    if (!key || key->fingerprint != fpr) fail(kExitFailure, fmt::format("no key {} in gpg.home", fpr));
    try {
      sql::Transaction tx(db);
      std::int64_t now = now_unix();
      db.cached("UPDATE keys SET pinned = 0 WHERE address = ?").bind(1, addr).run();
      db.cached(
            "INSERT INTO keys(address, fingerprint, source, pinned, added) VALUES (?1, ?2, 'analyst', 1, ?3) "
            "ON CONFLICT(address, fingerprint) DO UPDATE SET pinned = 1")
          .bind(1, addr)
          .bind(2, fpr)
          .bind(3, now)
          .run();
      auto st = db.prepare("SELECT DISTINCT case_id FROM participants WHERE address = ?");
      st.bind(1, addr);
      std::vector<std::int64_t> cases;
      while (st.step()) cases.push_back(st.int64(0));
      for (auto c : cases) s.add_event(c, "key", ctx.actor, fmt::format("key {} pinned to {} by an analyst", fpr, addr), now);
      tx.commit();
    } catch (const StoreError& e) {
      fail(kExitFailure, e.what());
    }
    std::cout << fmt::format("{} is now pinned to {}\n", fpr, addr);
    return 0;
  }
  if (action == "export") {
    if (!args.empty()) fail(kExitUsage, "usage: casectl keys export [--binary]");
    auto key = check(crypto->signing_key(ctx.config.gpg.signing_key, ctx.config.case_.alias));
    std::cout << check(crypto->export_key(key.fingerprint, !binary));
    std::cout.flush();
    // Where to publish it, on stderr so that stdout is the key alone.
    WkdLocation wkd = wkd_location(ctx.config.case_.alias);
    std::cerr << fmt::format(
        "key {} for {}\nWKD hash: {}\nPublish the binary key (casectl keys export --binary) at\n  {}\nor, with an "
        "openpgpkey subdomain,\n  {}\n",
        key.fingerprint, ctx.config.case_.alias, wkd.hash, wkd.direct.substr(0, wkd.direct.find('?')),
        wkd.advanced.substr(0, wkd.advanced.find('?')));
    return 0;
  }
  if (!action.empty() && action != "list") fail(kExitUsage, fmt::format("unknown keys action '{}' (list, pin, export)", action));
  nlohmann::json arr = nlohmann::json::array();
  auto st = db.prepare(
      "SELECT address, fingerprint, source, case_id, pinned, added, offered_by FROM keys ORDER BY address, added");
  while (st.step()) {
    auto info = crypto->find_key(st.text(1));
    // Addresses and user ids come from keys that anyone can mail in: JSON
    // gets them as valid UTF-8.
    arr.push_back({{"address", valid_utf8(st.text(0))},
                   {"fingerprint", st.text(1)},
                   {"source", st.text(2)},
                   {"case", st.opt_int64(3) ? nlohmann::json(*st.opt_int64(3)) : nlohmann::json(nullptr)},
                   {"pinned", st.int64(4) != 0},
                   {"added", format_rfc3339(st.int64(5))},
                   {"uid", info ? nlohmann::json(valid_utf8(info->uid)) : nlohmann::json(nullptr)},
                   {"expires", info && info->expires ? nlohmann::json(format_rfc3339(*info->expires)) : nlohmann::json(nullptr)},
                   {"usable", info ? info->can_encrypt : false},
                   {"offered_by", st.opt_text(6) ? nlohmann::json(valid_utf8(*st.opt_text(6))) : nlohmann::json(nullptr)}});
  }
  if (ctx.json) {
    print_json(arr);
    return 0;
  }
  if (arr.empty()) std::cout << "no keys have arrived by mail or been pinned\n";
  for (const auto& k : arr)
    std::cout << fmt::format("{:<32} {} {:<10} {}{}{}\n", clip(k["address"].get<std::string>(), 200),
                             clip(k["fingerprint"].get<std::string>(), 64), clip(k["source"].get<std::string>(), 20),
                             k["pinned"].get<bool>() ? "pinned" : "NOT pinned", k["usable"].get<bool>() ? "" : ", unusable",
                             k["offered_by"].is_string() && k["offered_by"] != k["address"]
                                 ? ", sent by " + clip(k["offered_by"].get<std::string>(), 200)
                                 : std::string());
  return 0;
}

int run(int argc, char** argv) {
  Context ctx;
  const char* env_config = std::getenv("CASED_CONFIG");
  ctx.config_path = env_config && *env_config ? env_config : kDefaultConfig;

  CLI::App app{"casectl - work the cases of a security@ alias"};
  app.set_version_flag("--version", std::string("casectl ") + CASED_VERSION);
  app.add_option("--config", ctx.config_path, "configuration file (default $CASED_CONFIG or /etc/cased/cased.toml)");
  app.add_flag("--json", ctx.json, "print JSON");
  app.require_subcommand(1);
  app.fallthrough();
  g_invoker = cli::invoker_from_environment();

  std::function<int()> action;

  auto* init = app.add_subcommand("init", "create or migrate the database (idempotent)");
  init->callback([&] { action = [&] { return cmd_init(ctx); }; });

  static std::string ingest_file, ingest_mbox;
  auto* ingest = app.add_subcommand("ingest", "store one RFC 5322 message (file or stdin), or a whole mbox");
  ingest->add_option("FILE", ingest_file, "the message (default: stdin)");
  ingest->add_option("--mbox", ingest_mbox, "import every message of this mbox (- for stdin)");
  ingest->callback([&] {
    if (!ingest_file.empty() && !ingest_mbox.empty()) fail(kExitUsage, "give FILE or --mbox, not both");
    action = [&] { return cmd_ingest(ctx, ingest_file, ingest_mbox); };
  });

  static std::string list_status, list_assignee;
  static int list_stale = -1;
  auto* list = app.add_subcommand("list", "list cases");
  list->add_option("--status", list_status, "only cases in this state")
      ->check(CLI::IsMember({"new", "open", "waiting", "resolved", "rejected"}));
  list->add_option("--assignee", list_assignee, "only cases assigned to this user");
  list->add_option("--stale", list_stale, "only cases without activity for DAYS")->check(CLI::NonNegativeNumber);
  list->callback([&] {
    CaseFilter f;
    if (!list_status.empty()) f.status = list_status;
    if (!list_assignee.empty()) f.assignee = list_assignee;
    if (list_stale >= 0) f.stale_days = list_stale;
    action = [&, f] { return cmd_list(ctx, f); };
  });

  static std::string case_id, arg2, text, file;
  auto* show = app.add_subcommand("show", "show a case with its messages, comments and history");
  show->add_option("ID", case_id, "case id")->required();
  show->callback([&] { action = [&] { return cmd_show(ctx, case_id); }; });

  auto* assign = app.add_subcommand("assign", "assign a case to a user");
  assign->add_option("ID", case_id, "case id")->required();
  assign->add_option("USER", arg2, "assignee")->required();
  assign->callback([&] { action = [&] { return cmd_assign(ctx, case_id, arg2); }; });

  auto* comment = app.add_subcommand("comment", "add an internal note (never mailed)");
  comment->add_option("ID", case_id, "case id")->required();
  comment->add_option("-m", text, "the text");
  comment->add_option("-F", file, "read the text from FILE (- for stdin)");
  comment->callback([&] { action = [&] { return cmd_comment(ctx, case_id, text, file); }; });

  auto* status = app.add_subcommand("status", "set the state: new | open | waiting | resolved | rejected");
  status->add_option("ID", case_id, "case id")->required();
  status->add_option("STATE", arg2, "new state")->required()->check(
      CLI::IsMember({"new", "open", "waiting", "resolved", "rejected"}));
  status->callback([&] { action = [&] { return cmd_status(ctx, case_id, arg2); }; });

  static DisclosureChange disclosure;
  static std::string set_embargo, set_product, set_versions, set_cvss;
  auto* set = app.add_subcommand("set", "disclosure fields: embargo date, CVE ids, product, versions, CVSS vector");
  set->add_option("ID", case_id, "case id")->required();
  auto* embargo_opt = set->add_option("--embargo", set_embargo, "planned publication date YYYY-MM-DD ('none' clears)");
  set->add_option("--cve", disclosure.add_cves, "add a CVE id (repeatable)");
  set->add_option("--no-cve", disclosure.remove_cves, "remove a CVE id (repeatable)");
  auto* product_opt = set->add_option("--product", set_product, "affected product ('none' clears)");
  auto* versions_opt = set->add_option("--versions", set_versions, "affected versions ('none' clears)");
  auto* cvss_opt = set->add_option("--cvss", set_cvss, "CVSS:3.1/... or CVSS:4.0/... vector ('none' clears)");
  set->callback([&, embargo_opt, product_opt, versions_opt, cvss_opt] {
    auto given = [](CLI::Option* o, const std::string& v) -> std::optional<std::string> {
      if (o->count() == 0) return std::nullopt;
      return v == "none" ? std::string() : v;
    };
    disclosure.embargo = given(embargo_opt, set_embargo);
    disclosure.product = given(product_opt, set_product);
    disclosure.versions = given(versions_opt, set_versions);
    disclosure.cvss = given(cvss_opt, set_cvss);
    action = [&] { return cmd_set(ctx, case_id, disclosure); };
  });

  static std::string query;
  auto* search = app.add_subcommand("search", "full text over subjects, decrypted bodies and comments");
  search->add_option("QUERY", query, "words; word* for a prefix")->required();
  search->callback([&] { action = [&] { return cmd_search(ctx, query); }; });

  static std::vector<std::string> reply_to;
  static bool sign_only = false;
  auto* reply = app.add_subcommand("reply", "mail a reply: signed, and encrypted to every recipient");
  reply->add_option("ID", case_id, "case id")->required();
  reply->add_option("-m", text, "the text");
  reply->add_option("-F", file, "read the text from FILE (- for stdin)");
  reply->add_option("--to", reply_to, "recipient (repeatable); replaces the case's reporters");
  reply->add_flag("--sign-only", sign_only, "send signed but unencrypted when a recipient has no key");
  reply->callback([&] { action = [&] { return cmd_reply(ctx, case_id, text, file, reply_to, sign_only); }; });

  static std::string outbox_action, outbox_id;
  auto* outbox = app.add_subcommand("outbox", "queued, sent and failed outbound mail; 'outbox retry ID'");
  outbox->add_option("ACTION", outbox_action, "retry");
  outbox->add_option("OUTBOX_ID", outbox_id, "outbox entry");
  outbox->callback([&] { action = [&] { return cmd_outbox(ctx, outbox_action, outbox_id); }; });

  static bool digest_send = false;
  auto* digest = app.add_subcommand("digest", "reminder digest: prints it, or mails it with --send");
  digest->add_flag("--send", digest_send, "mail it (signed) to digest.to");
  digest->callback([&] { action = [&] { return cmd_digest(ctx, digest_send); }; });

  static bool securitytxt_sign = false;
  auto* securitytxt = app.add_subcommand("securitytxt", "print an RFC 9116 security.txt for the alias");
  securitytxt->add_flag("--sign", securitytxt_sign, "clearsign it with the alias key");
  securitytxt->callback([&] { action = [&] { return cmd_securitytxt(ctx, securitytxt_sign); }; });

  static std::string role = "reporter";
  auto* participant = app.add_subcommand("participant", "add a verified participant to a case (reply recipient)");
  participant->add_option("ID", case_id, "case id")->required();
  participant->add_option("ADDR", arg2, "address")->required();
  participant->add_option("--role", role, "reporter | analyst | vendor | coordinator")
      ->check(CLI::IsMember({"reporter", "analyst", "vendor", "coordinator"}));
  participant->callback([&] { action = [&] { return cmd_participant(ctx, case_id, arg2, role); }; });

  static std::string keys_action;
  static std::vector<std::string> keys_args;
  auto* keys = app.add_subcommand("keys", "keys per participant; 'keys pin ADDR FPR'; 'keys export'");
  keys->add_option("ACTION", keys_action, "list | pin | export");
  static bool keys_binary = false;
  keys->add_option("ARGS", keys_args, "for pin: ADDR FINGERPRINT");
  keys->add_flag("--binary", keys_binary, "export: the binary key, as WKD serves it");
  keys->callback([&] { action = [&] { return cmd_keys(ctx, keys_action, keys_args, keys_binary); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: stdout, exit 0
  } catch (const CLI::ParseError& e) {
    std::cerr << "casectl: " << e.what() << "\n";
    return kExitUsage;
  }
  // Through sudo the configuration decides which password goes to which
  // server: only root picks it.
  if (!g_invoker.may_choose_config() && (app.count("--config") > 0 || (env_config && *env_config))) {
    std::cerr << fmt::format("casectl: warning: run through sudo by {}: --config and CASED_CONFIG are ignored; "
                             "reading {}\n", g_invoker.user, kDefaultConfig);
    ctx.config_path = kDefaultConfig;
  }
  ctx.load();
  return action();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Exit& e) {
    std::cerr << "casectl: " << display_safe(e.message, true) << "\n";
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "casectl: " << display_safe(e.what(), true) << "\n";
    return kExitFailure;
  }
}
