// IMAP state: the UIDVALIDITY of each polled mailbox, so that a change is
// noticed and logged, and the last UID handled, for diagnosis only (the
// poller never skips mail by it).
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

Result<std::uint32_t> Store::imap_uidvalidity(const std::string& mailbox) {
  return guarded([&]() -> Result<std::uint32_t> {
    auto& st = db_.cached("SELECT uidvalidity FROM imap_state WHERE mailbox = ?");
    st.bind(1, mailbox);
    std::uint32_t out = 0;
    if (st.step()) out = static_cast<std::uint32_t>(st.int64(0));
    st.reset();
    return out;
  });
}

Status Store::save_imap_state(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t last_uid) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    db_.cached(
           "INSERT INTO imap_state(mailbox, uidvalidity, last_uid) VALUES (?1, ?2, ?3) "
           "ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = ?2, last_uid = ?3")
        .bind(1, mailbox)
        .bind(2, static_cast<std::int64_t>(uidvalidity))
        .bind(3, static_cast<std::int64_t>(last_uid))
        .run();
    tx.commit();
    return ok_status();
  });
}

}  // namespace cased
