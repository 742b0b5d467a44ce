// Reads an mbox and prepares its messages (parse, hash and, with a Crypto,
// decrypt and verify) on a thread of its own, in batches, while the caller
// stores the batch before: a bulk import uses both cores. At most one
// batch waits beside the one being built and the caller's, so memory stays
// bounded whatever the mbox's size.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <istream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "intake/prepare.hpp"

namespace cased {

struct BatchLimits {
  std::size_t messages = 500;    // a batch closes at this many messages
  std::size_t bytes = 8 << 20;   // or at this many raw bytes
  std::size_t ahead = 1;         // batches prepared before the caller takes them
};

class PrepareAhead {
 public:
  // Starts reading `in` at once. `in` and `crypto` (may be null) must
  // outlive this object and are used only by its thread.
  PrepareAhead(std::istream& in, Envelope envelope, Crypto* crypto, BatchLimits limits = {});
  ~PrepareAhead();  // stops the reader (what it has not read stays unread)
  PrepareAhead(const PrepareAhead&) = delete;
  PrepareAhead& operator=(const PrepareAhead&) = delete;

  // The next batch, in mbox order; nothing once the mbox is done. Rethrows
  // what the reader threw (after the batches before it).
  std::optional<std::vector<PreparedMessage>> next();
  // Messages read so far (all of them once next() returned nothing).
  std::size_t messages() const;

 private:
  void run(std::istream& in);
  bool push(std::vector<PreparedMessage>& batch);  // false: stop reading

  Envelope envelope_;
  Crypto* crypto_;
  BatchLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<PreparedMessage>> ready_;
  std::size_t messages_ = 0;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace cased
