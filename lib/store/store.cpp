#include "store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "core/util.hpp"
#include "store/migrations.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

const std::vector<std::string>& case_states() {
  static const std::vector<std::string> states = {"new", "open", "waiting", "resolved", "rejected"};
  return states;
}

Result<Store> Store::open(const std::string& path, StoreOptions options) {
  return open_at_version(path, std::move(options), 1 << 30);
}

Result<Store> Store::open_at_version(const std::string& path, StoreOptions options, int version) {
  return guarded([&]() -> Result<Store> {
    Store s(sql::Db::open(path, true), std::move(options));
    s.register_functions();
    s.migrate(version);
    return s;
  });
}

int Store::schema_version() {
  auto& st = db_.cached("PRAGMA user_version");
  st.step();
  int v = static_cast<int>(st.int64(0));
  st.reset();
  return v;
}

void Store::migrate(int up_to) {
  if (schema_version() >= std::min<int>(up_to, migrations().empty() ? 0 : migrations().back().version)) return;
  // IMMEDIATE: cased and casectl starting together must not both migrate.
  sql::Transaction tx(db_);
  int current = schema_version();
  for (const auto& m : migrations()) {
    if (m.version <= current || m.version > up_to) continue;
    db_.exec(m.sql);
    db_.exec(fmt::format("PRAGMA user_version = {}", m.version));
  }
  tx.commit();
}

std::optional<std::int64_t> Store::resolve_case(std::int64_t id) {
  for (int hops = 0; hops < 64; ++hops) {
    auto& st = db_.cached("SELECT merged_into FROM cases WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    auto next = st.opt_int64(0);
    st.reset();
    if (!next) return id;
    id = *next;
  }
  return std::nullopt;
}

void Store::add_event(std::int64_t case_id, std::string_view kind, std::string_view actor, std::string_view detail,
                      std::int64_t now) {
  db_.cached("INSERT INTO events(case_id, kind, actor, created, detail) VALUES (?, ?, ?, ?, ?)")
      .bind(1, case_id)
      .bind(2, kind)
      .bind(3, actor)
      .bind(4, now)
      .bind(5, detail)
      .run();
}

void Store::touch(std::int64_t case_id, std::int64_t now) {
  db_.cached("UPDATE cases SET updated = max(updated, ?) WHERE id = ?").bind(1, now).bind(2, case_id).run();
}

}  // namespace cased
