// Trust in a case, as the database answers it: the questions routing asks
// (who is a verified participant, which cases a Message-ID names), the
// joining of cases, and rate limits per mailbox (keys and pins: keys.cpp).
// Members of Store (store.hpp); the rest of ingest is ingest.cpp.
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>

#include "store/store_guard.hpp"
#include "store/store.hpp"
#include "store/store_rows.hpp"
#include "cases/routing.hpp"
#include "mail/address.hpp"
#include "core/util.hpp"

namespace cased {
namespace {

void sql_rate_key(sqlite3_context* ctx, int, sqlite3_value** argv) {
  try {
    const auto* text = sqlite3_value_text(argv[0]);
    int bytes = sqlite3_value_bytes(argv[0]);
    if (!text) return sqlite3_result_null(ctx);
    std::string key = rate_key(std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(bytes)));
    sqlite3_result_text64(ctx, key.data(), key.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(ctx);
  }
}

// The recipients of a case's outbound mail other than acknowledgements and
// replies cancelled before they left (an unreadable to_json counts as none).
constexpr const char* kOutboundTo =
    " FROM messages m JOIN outbox o ON o.message = m.id, "
    "json_each(CASE WHEN json_valid(m.to_json) THEN m.to_json ELSE '[]' END) j "
    "WHERE m.case_id = ?1 AND m.direction = 'out' AND o.kind <> 'ack' AND o.status <> 'cancelled'";


}  // namespace

StoreOptions store_options(const Config& config, bool acknowledge) {
  StoreOptions options(config.case_.alias, config.case_.tag, acknowledge, config.case_.authserv_id);
  options.busy_timeout = std::chrono::seconds(config.case_.busy_timeout_seconds);
  options.ack_per_day = config.ack.per_sender_per_day;
  options.ack_per_hour = config.ack.per_hour;
  return options;
}

void Store::register_functions() {
  int rc = sqlite3_create_function_v2(db_.handle(), "cased_rate_key", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                      sql_rate_key, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) sql::throw_error(db_.handle(), rc, "registering cased_rate_key");
}

// The questions routing asks (cases/routing.hpp), answered from the
// database inside the ingest transaction.
class Store::RoutingQueries final : public RoutingLookup {
 public:
  explicit RoutingQueries(Store& store) : store_(store), db_(store.db_) {}

  std::optional<std::int64_t> resolve_case(std::int64_t id) override { return store_.resolve_case(id); }

  std::optional<std::int64_t> outbound_case(const std::string& message_id) override {
    auto& st = db_.cached("SELECT case_id FROM messages WHERE message_id = ? AND direction = 'out' LIMIT 1");
    st.bind(1, message_id);
    std::optional<std::int64_t> c;
    if (st.step()) c = st.int64(0);
    st.reset();
    return c;
  }

  std::vector<std::int64_t> cases_of_message(const std::string& message_id) override {
    return cases(db_.cached("SELECT case_id FROM messages WHERE message_id = ?").bind(1, message_id));
  }

  std::vector<std::int64_t> cases_referencing(const std::string& message_id) override {
    return cases(db_.cached("SELECT m.case_id FROM message_refs r JOIN messages m ON m.id = r.message WHERE r.ref = ?")
                     .bind(1, message_id));
  }

  bool verified_participant(std::int64_t case_id, const std::string& address) override {
    // Built once: the statement cache is keyed by the text's address.
    static const std::string sql = std::string(
                                       "SELECT 1 FROM participants WHERE case_id = ?1 AND address = ?2 AND verified = 1 "
                                       "UNION ALL SELECT 1") +
                                   kOutboundTo + " AND lower(j.value) = ?2 LIMIT 1";
    auto& st = db_.cached(sql.c_str());
    st.bind(1, case_id).bind(2, address);
    bool yes = st.step();
    st.reset();
    return yes;
  }

  std::set<std::string> verified_people(std::int64_t case_id) override {
    static const std::string sql =
        std::string("SELECT address FROM participants WHERE case_id = ?1 AND verified = 1 UNION SELECT lower(j.value)") +
        kOutboundTo;
    auto& st = db_.cached(sql.c_str());
    st.bind(1, case_id);
    std::set<std::string> out;
    while (st.step()) out.insert(st.text(0));
    st.reset();
    return out;
  }

  std::int64_t acknowledgements_since(const std::string& address, std::int64_t since) override {
    return store_.acknowledgements_since(address, since);
  }
  std::int64_t all_acknowledgements_since(std::int64_t since) override {
    return store_.all_acknowledgements_since(since);
  }

  std::vector<std::int64_t> split_origins(std::int64_t case_id) override { return store_.split_origins(case_id); }

  // Coordinating with vendors (vendor_party.cpp).
  bool case_has_vendor(std::int64_t case_id, const std::string& vendor) override {
    return !store_.vendor_case_rows(case_id, vendor).empty();
  }
  std::vector<std::string> case_vendors_with_contact(std::int64_t case_id, const std::string& address) override {
    return store_.case_vendors_with(case_id, false, address);
  }
  std::vector<std::string> case_vendors_with_key(std::int64_t case_id, const std::string& fingerprint) override {
    return store_.case_vendors_with(case_id, true, fingerprint);
  }
  std::optional<Notification> notification(const std::string& message_id) override {
    return store_.notification_of(message_id);
  }

 private:
  static std::vector<std::int64_t> cases(sql::Stmt& st) {
    std::vector<std::int64_t> out;
    while (st.step()) out.push_back(st.int64(0));
    st.reset();
    return out;
  }

  Store& store_;
  sql::Db& db_;
};

RoutingDecision Store::route(const RoutingInput& in) {
  RoutingQueries queries(*this);
  return route_message(
      in, RoutingOptions{options_.alias, options_.tag, options_.authserv_id, options_.acknowledge, options_.ack_per_day,
                     options_.ack_per_hour},
      queries);
}

void Store::join_cases(std::int64_t target, const RoutingDecision& route, const std::string& message_id,
                       std::int64_t now) {
  // One event names the other cases (a few; a message naming thousands
  // must not write thousands of events), and each named case hears of it.
  constexpr std::size_t kNamed = 10;
  if (!route.not_merged.empty()) {
    std::string names;
    for (std::size_t i = 0; i < route.not_merged.size() && i < kNamed; ++i)
      names += fmt::format("{}[{}#{}]", i ? ", " : "", options_.tag, route.not_merged[i]);
    if (route.not_merged.size() > kNamed) names += fmt::format(" and {} more", route.not_merged.size() - kNamed);
    add_event(target, "message", "cased",
              fmt::format("message {}: references also name {}; not merged", message_id, names), now);
  }
  for (std::size_t i = 0; i < route.not_merged.size() && i < kNamed; ++i)
    add_event(route.not_merged[i], "message", "cased",
              fmt::format("message {} (in [{}#{}]) references this case too; not merged", message_id, options_.tag,
                          target),
              now);
  for (std::int64_t other : route.join) {
    // Its events come along too: the thread was one case all along.
    for (const char* q : {"UPDATE events SET case_id = ?1 WHERE case_id = ?2",
                          "INSERT OR IGNORE INTO participants(case_id, address, name, role, verified, bouncing, added) "
                          "SELECT ?1, address, name, role, verified, bouncing, added FROM participants WHERE case_id = ?2",
                          "DELETE FROM participants WHERE case_id = ?2",
                          "UPDATE cases SET merged_into = ?1 WHERE id = ?2"})
      db_.cached(q).bind(1, target).bind(2, other).run();
    detail::move_rows(db_, other, target);
    // Its own history moved with it; `show` of it says where it went.
    add_event(other, "merge", "cased", fmt::format("thread joined: merged into [{}#{}]", options_.tag, target), now);
    add_event(target, "message", "cased",
              fmt::format("thread joined: [{}#{}] merged into this case (same thread, same verified participants)",
                          options_.tag, other),
              now);
  }
}

Status Store::add_participant(std::int64_t id, const std::string& address, const std::string& role,
                              const std::string& actor) {
  return detail::guarded([&]() -> Status {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    std::string addr = normalize_address(address);
    std::int64_t now = now_unix();
    db_.cached(
           "INSERT INTO participants(case_id, address, role, verified, added) VALUES (?1, ?2, ?3, 1, ?4) "
           "ON CONFLICT(case_id, address) DO UPDATE SET verified = 1, role = ?3")
        .bind(1, resolved)
        .bind(2, addr)
        .bind(3, role)
        .bind(4, now)
        .run();
    add_event(resolved, "participant", actor, fmt::format("{} added as {} (verified)", addr, role), now);
    // Keys that arrived while the sender was unverified stay unpinned: the
    // analyst vouched for the person, not for a key; say which there are.
    if (!pinned_fingerprint(addr)) {
      auto& st = db_.cached("SELECT fingerprint FROM keys WHERE address = ?1 AND offered_by = ?1 AND pinned = 0");
      st.bind(1, addr);
      std::vector<std::string> fprs;
      while (st.step()) fprs.push_back(st.text(0));
      st.reset();
      for (const auto& f : fprs)
        add_event(resolved, "key", actor,
                  fmt::format("key {} from {} is not pinned; check it and run: casectl keys pin {} {}", f, addr, addr, f),
                  now);
    }
    touch(resolved, now);
    tx.commit();
    return ok_status();
  });
}

// Every acknowledgement queued, whatever became of it (sent, failed or
// still waiting): the cap holds back what would be queued, not what is sent.
// The partial index outbox_ack (schema 15) keeps this to the day's rows.
std::int64_t Store::acknowledgements_since(const std::string& address, std::int64_t since) {
  auto& st = db_.cached(
      "SELECT count(*) FROM outbox o WHERE o.kind = 'ack' AND o.created > ?1 AND EXISTS (SELECT 1 FROM "
      "json_each(CASE WHEN json_valid(o.recipients) THEN o.recipients ELSE '[]' END) j "
      "WHERE cased_rate_key(j.value) = ?2)");
  st.bind(1, since).bind(2, rate_key(address));
  st.step();
  std::int64_t n = st.int64(0);
  st.reset();
  return n;
}

std::int64_t Store::all_acknowledgements_since(std::int64_t since) {
  auto& st = db_.cached("SELECT count(*) FROM outbox WHERE kind = 'ack' AND created > ?");
  st.bind(1, since);
  st.step();
  std::int64_t n = st.int64(0);
  st.reset();
  return n;
}

Result<std::int64_t> Store::sent_to_since(const std::string& address, std::int64_t since) {
  return detail::guarded([&]() -> Result<std::int64_t> {
    auto& st = db_.cached(
        "SELECT count(*) FROM outbox o WHERE o.status = 'sent' AND o.sent > ?1 AND EXISTS (SELECT 1 FROM "
        "json_each(CASE WHEN json_valid(o.recipients) THEN o.recipients ELSE '[]' END) j "
        "WHERE cased_rate_key(j.value) = ?2)");
    st.bind(1, since).bind(2, rate_key(address));
    st.step();
    std::int64_t n = st.int64(0);
    st.reset();
    return n;
  });
}

}  // namespace cased
