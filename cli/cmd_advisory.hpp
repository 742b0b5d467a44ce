// casectl advisory ID init|show|edit|set|export|publish (cmd_advisory.cpp,
// advisory_publish.cpp): a case's advisory, its documents and its
// publication in a CSAF provider directory.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cvd/advisory.hpp"
#include "store/store.hpp"

namespace cased::cli {

struct Context;
struct Args;

struct AdvisoryArgs {
  std::string action;               // init | show | edit | set | export | publish
  std::vector<std::string> words;   // set: FIELD VALUE
  std::string format = "csaf";      // export: csaf | cve | text
  std::string cve;                  // export --format cve: which CVE id
  std::string dir, announce;        // publish --dir DIR [--announce ADDR]
  bool force = false;               // publish --force --reason TEXT
  std::string reason;
};

void advisory_options(CLI::App& c, Args& a);
int cmd_advisory(Context& ctx, const Args& a);

// What every document of the case's advisory is built from, as it stands
// (`next_version`: as publish would make the next version at `now`).
struct AdvisorySource {
  AdvisoryRecord record;
  CaseDetail detail;
  advisory::Input input;
};
AdvisorySource advisory_source(Context& ctx, Store& s, std::int64_t case_id, bool next_version);
// The checks of advisory::check, failing with a usage error.
advisory::Checked checked(const advisory::Input& in);
// JSON as a file holds it: two-space indent, a final newline; a usage
// error when some text is not UTF-8.
std::string serialize(const nlohmann::json& j);

// publish (advisory_publish.cpp).
int advisory_publish(Context& ctx, const Args& a, std::int64_t case_id);

}  // namespace cased::cli
