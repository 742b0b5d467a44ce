// Reports made on the web form: the receipt code a reporter was given and
// the key they pasted, for that case only (schema 19). Members of Store.
#include <fmt/format.h>

#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

void Store::record_web_report(const WebSubmission& web, const IngestResult& result, std::int64_t now) {
  db_.cached(
         "INSERT INTO web_reports(case_id, message, receipt, address, fingerprint, created) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, result.case_id)
      .bind(2, result.message)
      .bind(3, web.receipt)
      .bind(4, web.address)
      .bind(5, web.fingerprint)
      .bind(6, now)
      .run();
  add_event(result.case_id, "message", "cased", "reported on the web form; the reporter was given a receipt code", now);
  if (!web.fingerprint.empty())
    add_event(result.case_id, "key", "cased",
              fmt::format("key {} pasted into the web form: used for this case's acknowledgement only",
                          web.fingerprint),
              now);
}

Result<std::optional<Store::WebReport>> Store::web_report(std::int64_t case_id) {
  return guarded([&]() -> Result<std::optional<WebReport>> {
    auto& st = db_.cached("SELECT case_id, receipt, address, fingerprint, created FROM web_reports WHERE case_id = ?");
    st.bind(1, case_id);
    std::optional<WebReport> out;
    if (st.step()) out = WebReport{st.int64(0), st.text(1), st.text(2), st.text(3), st.int64(4)};
    st.reset();
    return out;
  });
}

}  // namespace cased
