// Faults of the machine or of a service that every message meets while they
// last (a full disk, a database locked by another process, a gpg-agent that
// does not answer) are logged once when first met and once when they clear,
// not once per message: a journal flooded with one line per deferral hides
// the one line that says what to do.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace cased {

// Whether an error of this code is a lasting fault of the environment
// (Errc::full, busy, unavailable): one that the next message meets too.
constexpr bool is_lasting_fault(Errc code) {
  return code == Errc::full || code == Errc::busy || code == Errc::unavailable;
}

class FaultLog {
 public:
  // Notes a failure. For a lasting fault, logs one warning the first time
  // since it last cleared: what failed, `consequence` (what it means for
  // mail) and what the operator can do; returns true when it logged. Every
  // later failure of that kind is counted, not logged, until cleared().
  // Other codes are not noted: false, and the caller logs as usual.
  bool failed(const Error& error, std::string_view consequence);
  // Whether a fault of this kind has been logged and has not cleared.
  bool active(Errc code) const;
  // An operation that the fault of this kind blocked has succeeded: if it
  // was active, one line says it cleared, after how long and how many
  // failures. Cheap when it was not.
  void cleared(Errc code);

 private:
  struct State {
    std::optional<std::chrono::steady_clock::time_point> since;
    std::uint64_t failures = 0;
  };
  static std::size_t slot(Errc code) { return code == Errc::full ? 0 : code == Errc::busy ? 1 : 2; }
  mutable std::mutex mu_;
  std::array<State, 3> states_;
  // How many kinds are active: cleared() runs after every delivery, and
  // without a fault it returns here without taking the lock.
  std::atomic<int> active_{0};
};

// The process's one fault log, shared by delivery, the search index and the outbox.
FaultLog& fault_log();

// What an operator is told to do about a lasting fault ("" for other codes).
std::string_view fault_hint(Errc code);

}  // namespace cased
