// Splits an mbox (mboxrd or mboxo) into messages, streaming: one message in
// memory at a time. ">From " quoting is undone one level.
#pragma once

#include <functional>
#include <istream>
#include <string>

namespace cased {

// Calls `on_message` with each message's bytes (without the "From " line).
// Returns the number of messages seen. Stops early if `on_message` returns false.
std::size_t read_mbox(std::istream& in, const std::function<bool(std::string&&)>& on_message);

}  // namespace cased
