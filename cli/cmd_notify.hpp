// Coordinating a case with vendors (cmd_notify.cpp): `notify` mails each
// named vendor its own encrypted notification, `vendor-status` records a
// vendor's answer, `outreach` an attempt to reach it by other means.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace cased::cli {

struct Context;
struct Args;

// What their options parse into (one field of Args).
struct NotifyArgs {
  std::vector<std::string> vendors;   // notify: NAME...
  std::string vendor;                 // vendor-status and outreach: NAME
  std::vector<std::string> includes;  // notify --include MSG
  std::string state, cve, statement, via;
  bool statement_given = false;
};

void notify_options(CLI::App& c, Args& a);
void vendor_status_options(CLI::App& c, Args& a);
void outreach_options(CLI::App& c, Args& a);
int cmd_notify(Context& ctx, const Args& a);
int cmd_vendor_status(Context& ctx, const Args& a);
int cmd_outreach(Context& ctx, const Args& a);

}  // namespace cased::cli
