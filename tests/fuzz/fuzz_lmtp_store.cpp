// The LMTP session with the whole pipeline behind it, as in the daemon: each
// delivery is parsed by prepare_message (a parse that throws is a temporary
// error) and stored by Store::ingest into a real SQLite database, and every
// error is answered with outcome_for's reply, with nothing catching what the
// store throws (the daemon's writer thread does not either). Every input starts from the same empty, migrated database.
#include <filesystem>

#include "fuzz_common.hpp"
#include "lmtp_driver.hpp"
#include "store/store.hpp"

namespace {

const cased::StoreOptions kOptions{"security@example.com", "CASE", true};

// An empty database, migrated once per process; each input gets a fresh copy.
const std::filesystem::path& template_db() {
  static const std::filesystem::path path = [] {
    auto p = cased::fuzz::ScratchDir::path() / "template.db";
    auto store = cased::Store::open(p.string(), kOptions);
    if (!store) std::abort();
    return p;
  }();
  return path;
}

std::vector<cased::LmtpOutcome> store_one(cased::Store& store, cased::LmtpDelivery& d) {
  std::vector<cased::PreparedMessage> batch;
  try {
    cased::Envelope envelope{cased::MessageSource::lmtp, d.mail_from, d.recipients};
    batch.push_back(cased::prepare_message(std::move(d.data), std::move(envelope), nullptr));
  } catch (const std::exception& e) {
    return {cased::outcome_for(cased::Error{cased::Errc::temporary, e.what()})};
  }
  auto results = store.ingest(batch);
  if (!results) return {cased::outcome_for(results.error())};
  if (!results->front()) return {cased::outcome_for(results->front().error())};
  std::int64_t case_id = results->front()->case_id;
  // Read it back the way `casectl show` does.
  if (auto shown = store.get_case(case_id); !shown) return {cased::outcome_for(shown.error())};
  return {{250, "2.0.0", "stored"}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  auto db = cased::fuzz::ScratchDir::path() / "cases.db";
  for (const char* suffix : {"-wal", "-shm", "-journal"}) std::filesystem::remove(db.string() + suffix);
  std::filesystem::copy_file(template_db(), db, std::filesystem::copy_options::overwrite_existing);
  auto store = cased::Store::open(db.string(), kOptions);
  if (!store) std::abort();
  cased::LmtpLimits limits;
  limits.max_message_size = 1024 * 1024;
  limits.max_recipients = 8;
  cased::fuzz::drive_lmtp(cased::fuzz::as_view(data, size), limits,
                          [&](cased::LmtpDelivery& d) { return store_one(*store, d); });
  return 0;
}
