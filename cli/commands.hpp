// casectl's commands as one table: each row names a command, says what it
// does, how it uses the database (read-only commands never write it, so an
// analyst without write access can run them), the options it takes and the
// function that runs it. casectl.cpp builds the CLI11 parser from the rows.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "cases/disclosure.hpp"
#include "cmd_advisory.hpp"
#include "cmd_notify.hpp"
#include "cmd_vendor.hpp"
#include "context.hpp"

namespace cased::cli {

// What the options of every command parse into.
struct Args {
  std::string case_id, arg2, text, file;  // ID, a second positional, -m, -F
  std::string ingest_file, ingest_mbox;
  std::vector<std::string> list_status;  // any of these states
  std::string list_assignee;
  bool list_all = false, unassigned = false, mine = false, embargoed = false, reverse = false;
  std::string sort = "updated";  // updated | created | id | embargo
  std::string export_format = "csv";  // export: csv | json
  bool assign_none = false;      // assign ID --none
  int list_stale = -1;
  int limit = -1;              // list and search: at most this many (-1: list all, search kSearchLimit)
  std::string since, until;    // stats: YYYY-MM-DD
  DisclosureChange disclosure;
  std::string embargo, product, versions, cvss;  // set: "none" clears, absent leaves
  std::string query;
  std::vector<std::string> reply_to;
  std::vector<std::string> reply_cc, reply_attach;  // reply --cc ADDR, --attach FILE
  bool sign_only = false;
  std::string action;  // outbox and keys: the action word
  std::string outbox_id;
  std::vector<std::string> keys_args;
  bool binary = false, digest_send = false, sign = false;
  std::string role = "reporter";
  std::string backup_file, verify_database;  // backup FILE, verify --database FILE
  bool force = false;                        // backup --force
  // attachments, save, raw (cmd_attach.cpp)
  std::vector<std::string> handles;  // save: MSG.PART (none: every attachment of the case)
  std::string save_dir;              // save --dir (default ./TAG-ID)
  bool save_stdout = false;          // save --stdout
  // Triage (cmd_triage.cpp): status --reason, tag +TAG -TAG, list --tag.
  std::string reason;
  std::vector<std::string> tag_changes;
  std::vector<std::string> list_tags;
  // merge ID INTO (INTO in arg2); split ID MSG...
  std::vector<std::int64_t> split_messages;
  // vendor ACTION NAME [SOURCE] (cmd_vendor.cpp; ACTION in `action`).
  VendorArgs vendor;
  // advisory ID ACTION ... (cmd_advisory.cpp).
  AdvisoryArgs advisory;
  // notify, vendor-status, outreach (cmd_notify.cpp).
  NotifyArgs coord;
};

struct Command {
  std::string_view name;
  std::string_view help;
  Access (*access)(const Args&);  // decided by the options given
  void (*options)(CLI::App&, Args&);
  int (*run)(Context&, const Args&);
};

const std::vector<Command>& commands();

// The handlers (cmd_cases.cpp and cmd_mail.cpp).
int cmd_init(Context& ctx, const Args& a);
int cmd_ingest(Context& ctx, const Args& a);
int cmd_list(Context& ctx, const Args& a);
int cmd_export(Context& ctx, const Args& a);
int cmd_show(Context& ctx, const Args& a);
int cmd_assign(Context& ctx, const Args& a);
int cmd_take(Context& ctx, const Args& a);
int cmd_comment(Context& ctx, const Args& a);
int cmd_status(Context& ctx, const Args& a);
int cmd_set(Context& ctx, const Args& a);
int cmd_search(Context& ctx, const Args& a);
int cmd_stats(Context& ctx, const Args& a);
int cmd_participant(Context& ctx, const Args& a);
int cmd_reply(Context& ctx, const Args& a);
int cmd_outbox(Context& ctx, const Args& a);
int cmd_digest(Context& ctx, const Args& a);
int cmd_securitytxt(Context& ctx, const Args& a);
int cmd_keys(Context& ctx, const Args& a);
// Attachments out (cmd_attach.cpp).
int cmd_attachments(Context& ctx, const Args& a);
int cmd_save(Context& ctx, const Args& a);
int cmd_raw(Context& ctx, const Args& a);

// Triage (cmd_triage.cpp): the options of status and tag, list's --tag,
// and the handler of tag.
void status_options(CLI::App& c, Args& a);
void tag_options(CLI::App& c, Args& a);
void tag_filter_option(CLI::App& c, std::vector<std::string>& into, const std::string& help);
int cmd_tag(Context& ctx, const Args& a);
// casectl's words with those after `tag` (but --json, --config and --help)
// behind a "--", so that CLI11 takes `-TAG` for a word, not an option.
std::vector<std::string> positional_tag_changes(const std::vector<std::string>& words);
// merge and split (cmd_merge.cpp), with their options.
void merge_options(CLI::App& c, Args& a);
void split_options(CLI::App& c, Args& a);
int cmd_merge(Context& ctx, const Args& a);
int cmd_split(Context& ctx, const Args& a);

}  // namespace cased::cli
