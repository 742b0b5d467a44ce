// For unit tests: a temp GNUPGHOME holding INSECURE throwaway secret keys
// (ed25519 + cv25519, no passphrase), made at test time, never committed.
#pragma once

#include <catch2/catch.hpp>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace cased::testing {

struct GpgHome {
  std::filesystem::path dir;
  explicit GpgHome(const std::vector<std::string>& uids) {
    char tmpl[] = "/tmp/cased-unit-gpg-XXXXXX";
    dir = mkdtemp(tmpl);
    for (const auto& uid : uids) gpg("--quick-gen-key " + uid + " future-default default never");
  }
  ~GpgHome() {
    std::string kill = "gpgconf --homedir " + dir.string() + " --kill all >/dev/null 2>&1";
    (void)std::system(kill.c_str());
    std::filesystem::remove_all(dir);
  }
  GpgHome(const GpgHome&) = delete;
  GpgHome& operator=(const GpgHome&) = delete;
  void gpg(const std::string& args) const {
    std::string cmd = "gpg --homedir " + dir.string() +
                      " --batch --yes --quiet --pinentry-mode loopback --passphrase '' " + args + " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
};

}  // namespace cased::testing
