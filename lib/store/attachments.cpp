// Attachments out: the stored attachments of a case with their handles,
// the raw message they are decoded from again, and the record that an
// analyst saved them (casectl attachments, save, raw).
#include <fmt/format.h>

#include "core/util.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

std::string StoredAttachment::handle() const { return fmt::format("{}.{}", message, part); }

Result<std::vector<StoredAttachment>> Store::case_attachments(std::int64_t id) {
  return guarded([&]() -> Result<std::vector<StoredAttachment>> {
    auto resolved = resolve_case(id);
    if (!resolved) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    // Rows are written in MIME order, one message at a time: a message's
    // Nth row by id is its part N.
    auto st = db_.prepare(
        "SELECT a.message, row_number() OVER (PARTITION BY a.message ORDER BY a.id), a.filename, a.content_type, "
        "a.size, a.sha256, a.encrypted, a.signed FROM attachments a JOIN messages m ON m.id = a.message "
        "WHERE m.case_id = ? ORDER BY m.received, m.id, a.id");
    st.bind(1, *resolved);
    std::vector<StoredAttachment> out;
    while (st.step()) {
      StoredAttachment a;
      a.case_id = *resolved;
      a.message = st.int64(0);
      a.part = static_cast<int>(st.int64(1));
      a.info.filename = st.text(2);
      a.info.content_type = st.text(3);
      a.info.size = static_cast<std::uint64_t>(st.int64(4));
      a.info.sha256 = st.text(5);
      a.info.encrypted = st.int64(6) != 0;
      a.info.is_signed = st.int64(7) != 0;
      out.push_back(std::move(a));
    }
    return out;
  });
}

Result<std::string> Store::raw_message(std::int64_t id, std::int64_t message) {
  return guarded([&]() -> Result<std::string> {
    auto resolved = resolve_case(id);
    if (!resolved) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    auto st = db_.prepare("SELECT case_id, raw FROM messages WHERE id = ?");
    st.bind(1, message);
    if (!st.step() || st.int64(0) != *resolved)
      return Error{Errc::not_found, fmt::format("case {} holds no message {}", *resolved, message)};
    return st.text(1);
  });
}

Status Store::attachments_saved(std::int64_t id, const std::vector<std::string>& handles, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    auto resolved = resolve_case(id);
    if (!resolved) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    std::string detail;
    for (const auto& h : handles) detail += (detail.empty() ? "" : " ") + h;
    add_event(*resolved, "attachment-saved", actor, detail, now_unix());
    tx.commit();
    return ok_status();
  });
}

}  // namespace cased
