// Cancelling a queued outbox row (`casectl outbox cancel ID`).
#include <fmt/format.h>

#include "core/util.hpp"
#include "store/outbox_queue.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

namespace {

// Why a row that is not queued cannot be cancelled, naming the fix where there is one.
Error not_cancellable(std::int64_t id, std::string_view status) {
  if (status == "sending")
    return Error{Errc::refused, fmt::format("outbox {} is being sent right now and can no longer be cancelled", id)};
  if (status == "sent") return Error{Errc::refused, fmt::format("outbox {} was already sent; it cannot be cancelled", id)};
  if (status == "cancelled") return Error{Errc::refused, fmt::format("outbox {} is already cancelled", id)};
  return Error{Errc::refused,
               fmt::format("outbox {} is {}, not queued: only a queued mail can be cancelled", id, status)};
}

}  // namespace

Result<std::optional<std::int64_t>> OutboxQueue::cancel(std::int64_t id, const std::string& actor) {
  return guarded([&]() -> Result<std::optional<std::int64_t>> {
    auto& db = store_.db_;
    sql::Transaction tx(db);
    // One statement decides against a sender claiming the row at the same time.
    db.cached("UPDATE outbox SET status = 'cancelled', claimed_until = NULL WHERE id = ? AND status = 'queued'")
        .bind(1, id)
        .run();
    const bool cancelled = db.changes() == 1;
    auto& st = db.cached("SELECT status, case_id, message_id FROM outbox WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) {
      st.reset();
      return Error{Errc::not_found, fmt::format("no outbox entry {}", id)};
    }
    std::string status = st.text(0);
    std::optional<std::int64_t> case_id = st.opt_int64(1);
    std::string message_id = st.text(2);
    st.reset();
    if (!cancelled) return not_cancellable(id, status);
    if (case_id) {
      std::int64_t now = now_unix();
      store_.add_event(*case_id, "cancel", actor, fmt::format("outbox {} ({}) cancelled", id, message_id), now);
      store_.touch(*case_id, now);
    }
    tx.commit();
    return case_id;
  });
}

}  // namespace cased
