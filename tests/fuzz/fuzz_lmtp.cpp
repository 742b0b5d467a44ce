// The LMTP session fed arbitrary bytes, with a handler that answers each
// delivery with one outcome or one per recipient, as the daemon does.
#include "fuzz_common.hpp"
#include "lmtp_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::LmtpLimits limits;
  limits.max_message_size = 64 * 1024;  // reachable within the fuzzer's input sizes
  limits.max_recipients = 8;
  cased::fuzz::drive_lmtp(cased::fuzz::as_view(data, size), limits, [](cased::LmtpDelivery& d) {
    std::vector<cased::LmtpOutcome> outcomes;
    if (d.data.size() % 3 == 0) {
      outcomes.push_back({451, "4.3.0", "temporary failure"});
    } else {
      for (std::size_t i = 0; i < d.recipients.size(); ++i)
        outcomes.push_back(i % 2 ? cased::LmtpOutcome{552, "5.3.4", "too big\r\nX"} : cased::LmtpOutcome{});
    }
    return outcomes;
  });
  return 0;
}
