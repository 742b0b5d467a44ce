// For store tests: a database path in a new temporary directory, removed
// with everything in it when the test ends.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace cased::test {

struct TempDb {
  std::filesystem::path dir;
  TempDb() {
    char tmpl[] = "/tmp/cased-unit-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;
  ~TempDb() { std::filesystem::remove_all(dir); }
  std::string path() const { return (dir / "cases.db").string(); }
};

}  // namespace cased::test
