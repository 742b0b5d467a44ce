// The views of output.hpp for lists other than cases: search hits, the
// outbox and keys, and the small summaries of init and an mbox import.
#include <fmt/format.h>

#include <iostream>

#include "core/text.hpp"
#include "core/util.hpp"
#include "output.hpp"

namespace cased::cli {
namespace {

template <class T, class F>
nlohmann::json or_null(const std::optional<T>& v, F&& f) {
  return v ? nlohmann::json(f(*v)) : nlohmann::json(nullptr);
}

}  // namespace

std::string addresses(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + clip(x, 200);
  return out;
}

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

nlohmann::json to_json(const SearchHit& h) {
  auto j = to_json(h.summary);
  j["snippet"] = h.snippet;
  return j;
}

nlohmann::json to_json(const OutboxRow& r) {
  auto same = [](auto v) { return v; };
  return {{"id", r.id},
          {"case", or_null(r.case_id, same)},
          {"kind", r.kind},
          {"status", std::string(to_string(r.status))},
          {"to", r.to},
          {"subject", r.subject},
          {"attempts", r.attempts},
          {"last_error", or_null(r.last_error, same)},
          {"created", format_rfc3339(r.created)},
          {"sent", or_null(r.sent, [](std::int64_t t) { return format_rfc3339(t); })}};
}

// Addresses and user ids come from keys that anyone can mail in: JSON gets
// them as valid UTF-8.
nlohmann::json to_json(const KeyView& k) {
  const KeyRecord& r = k.record;
  const auto& info = k.info;
  auto utf8 = [](const std::string& s) { return valid_utf8(s); };
  return {{"address", valid_utf8(r.address)},
          {"fingerprint", r.fingerprint},
          {"source", r.source},
          {"case", or_null(r.case_id, [](std::int64_t c) { return c; })},
          {"pinned", r.pinned},
          {"added", format_rfc3339(r.added)},
          {"uid", info ? nlohmann::json(valid_utf8(info->uid)) : nlohmann::json(nullptr)},
          {"expires", info ? or_null(info->expires, [](std::int64_t t) { return format_rfc3339(t); })
                           : nlohmann::json(nullptr)},
          {"usable", info ? info->can_encrypt : false},
          {"offered_by", or_null(r.offered_by, utf8)},
          {"kind", r.protocol}};
}

nlohmann::json to_json(const SchemaView& s) { return {{"database", s.database}, {"schema_version", s.version}}; }

nlohmann::json to_json(const MboxSummary& m) {
  return {{"messages", m.messages},
          {"stored", m.stored},
          {"new_cases", m.new_cases},
          {"duplicates", m.duplicates},
          {"failed", m.failed}};
}

std::string render_outbox(const std::vector<OutboxRow>& rows, const TextStyle& style) {
  if (rows.empty()) return "outbox is empty\n";
  std::string out =
      fmt::format("{:>4}  {:<10} {:<7} {:<6} {:>3}  {}\n", "ID", "CASE", "STATUS", "KIND", "TRY", "TO / LAST ERROR");
  for (const auto& r : rows) {
    std::string c = r.case_id ? fmt::format("{}#{}", style.tag, *r.case_id) : "-";
    out += fmt::format("{:>4}  {:<10} {:<7} {:<6} {:>3}  {}\n", r.id, c, to_string(r.status), r.kind, r.attempts,
                       addresses(r.to));
    if (r.last_error && r.status != SendStatus::sent) out += fmt::format("{:>36}{}\n", "", clip(*r.last_error, 500));
  }
  return out;
}

std::string render_keys(const std::vector<KeyView>& keys) {
  if (keys.empty()) return "no keys have arrived by mail or been pinned\n";
  std::string out;
  for (const auto& k : keys) {
    const KeyRecord& r = k.record;
    bool usable = k.info && k.info->can_encrypt;
    std::string sent_by =
        r.offered_by && *r.offered_by != r.address ? ", sent by " + clip(*r.offered_by, 200) : std::string();
    out += fmt::format("{:<32} {} {:<10} {}{}{}{}\n", clip(r.address, 200), clip(r.fingerprint, 64),
                       clip(r.source, 20), r.protocol == "smime" ? "S/MIME certificate, " : "", r.pinned ? "pinned" : "NOT pinned", usable ? "" : ", unusable", sent_by);
  }
  return out;
}

}  // namespace cased::cli
