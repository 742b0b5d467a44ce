// The configuration: any TOML text must give a Config or an error naming
// the problem, never an exception. What parses is also rendered the ways
// casectl renders it (security.txt, its expiry warning, the WKD location).
#include "core/config.hpp"
#include "fuzz_common.hpp"
#include "cvd/securitytxt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  auto config = cased::parse_config(cased::fuzz::as_view(data, size), "fuzz.toml");
  if (!config) return 0;
  const std::int64_t now = 1764460800;  // fixed, so that a corpus file replays the same way
  (void)cased::render_securitytxt(*config, now);
  (void)cased::securitytxt_expiry_warning(*config, now);
  (void)cased::wkd_location(config->case_.alias);
  for (const auto& listen : config->lmtp.listen) (void)cased::is_loopback_host(listen);
  return 0;
}
