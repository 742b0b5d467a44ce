#include "core/fault_log.hpp"

#include <spdlog/spdlog.h>

namespace cased {

std::string_view fault_hint(Errc code) {
  switch (code) {
    case Errc::full: return "free space on the database's file system; delivery resumes by itself";
    case Errc::busy:
      return "another process holds the database's write lock (an open transaction in sqlite3 or a script); "
             "end it and delivery resumes by itself";
    case Errc::unavailable:
      return "the gpg-agent of gpg.home does not answer: continue or kill it (the next PGP message starts a new "
             "one); other mail is delivered meanwhile";
    default: return "";
  }
}

bool FaultLog::failed(const Error& error, std::string_view consequence) {
  if (!is_lasting_fault(error.code)) return false;
  std::lock_guard lock(mu_);
  State& s = states_[slot(error.code)];
  ++s.failures;
  if (s.since) return false;
  s.since = std::chrono::steady_clock::now();
  s.failures = 1;
  ++active_;
  spdlog::warn("fault: {}: {}; {}; {}. Not logged again until it clears", to_string(error.code), error.message,
               consequence, fault_hint(error.code));
  return true;
}

bool FaultLog::active(Errc code) const {
  if (!is_lasting_fault(code)) return false;
  std::lock_guard lock(mu_);
  return states_[slot(code)].since.has_value();
}

void FaultLog::cleared(Errc code) {
  if (!is_lasting_fault(code) || active_.load() == 0) return;
  std::lock_guard lock(mu_);
  State& s = states_[slot(code)];
  if (!s.since) return;
  --active_;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - *s.since).count();
  spdlog::info("fault cleared: {} after {:.1f} s; {} failure(s) while it lasted", to_string(code), seconds, s.failures);
  s.since.reset();
  s.failures = 0;
}

FaultLog& fault_log() {
  static FaultLog log;
  return log;
}

}  // namespace cased
