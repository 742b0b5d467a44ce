#include "commands.hpp"

#include "cmd_admin.hpp"

#include <fmt/format.h>

#include <optional>

namespace cased::cli {
namespace {

const std::vector<std::string>& states() { return case_states(); }

Access reads(const Args&) { return Access::read; }
Access writes(const Args&) { return Access::write; }
Access no_database(const Args&) { return Access::none; }
// Searching reads; it also indexes what is not indexed yet when it may.
Access searches(const Args&) { return Access::index; }
// `outbox` lists; `outbox retry ID` queues again and sends.
Access outbox_access(const Args& a) { return a.action.empty() ? Access::read : Access::write; }
// `digest` prints; `digest --send` queues a mail.
Access digest_access(const Args& a) { return a.digest_send ? Access::write : Access::read; }
// `keys` lists; `keys pin` writes; `keys export` needs only the keyring.
Access keys_access(const Args& a) {
  if (a.action == "pin") return Access::write;
  return a.action == "export" ? Access::none : Access::read;
}

// `vendor` and `vendor list|show` read; the other actions write.
Access vendor_access(const Args& a) {
  return a.action.empty() || a.action == "list" || a.action == "show" ? Access::read : Access::write;
}

// `advisory ID show|export` read; init, edit, set and publish write.
Access advisory_access(const Args& a) {
  return a.advisory.action == "show" || a.advisory.action == "export" ? Access::read : Access::write;
}

constexpr long kMaxCount = 100000;

void no_options(CLI::App&, Args&) {}

void case_id(CLI::App& c, Args& a) { c.add_option("ID", a.case_id, "case id")->required(); }

void text_options(CLI::App& c, Args& a) {
  c.add_option("-m", a.text, "the text");
  c.add_option("-F", a.file, "read the text from FILE (- for stdin)");
}

void ingest_options(CLI::App& c, Args& a) {
  c.add_option("FILE", a.ingest_file, "the message (default: stdin)");
  c.add_option("--mbox", a.ingest_mbox, "import every message of this mbox (- for stdin)");
  c.callback([&a] {
    if (!a.ingest_file.empty() && !a.ingest_mbox.empty()) fail(ExitCode::usage, "give FILE or --mbox, not both");
  });
}

// A count of days or cases: a whole number in [low, 100000], or a usage
// error naming the option (not CLI11's message with its 300-digit range).
void count_option(CLI::App& c, const std::string& name, int& into, int low, const std::string& help) {
  c.add_option(name, into, help)
      ->check(CLI::Validator(
          [low](std::string& v) -> std::string {
            std::size_t used = 0;
            long n = -1;
            try {
              n = std::stol(v, &used);
            } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
              used = 0;
            }
            if (used == v.size() && !v.empty() && n >= low && n <= kMaxCount) return {};
            std::string shown = v.size() > 24 ? v.substr(0, 20) + "..." : v;
            return fmt::format("wants a whole number from {} to {}, not '{}'", low, kMaxCount, shown);
          },
          "N", "count"))
      ->type_name("N");
}

void list_options(CLI::App& c, Args& a) {
  auto* status = c.add_option("--status", a.list_status, "only cases in this state (repeatable; default: not closed)")
                     ->check(CLI::IsMember(states()));
  c.add_flag("--all", a.list_all, "cases in every state, closed ones too")->excludes(status);
  auto* assignee = c.add_option("--assignee", a.list_assignee, "only cases assigned to this user");
  auto* unassigned = c.add_flag("--unassigned", a.unassigned, "only cases nobody is assigned to")->excludes(assignee);
  c.add_flag("--mine", a.mine, "only cases assigned to me")->excludes(assignee)->excludes(unassigned);
  c.add_flag("--embargoed", a.embargoed, "only cases with an embargo date");
  count_option(c, "--stale", a.list_stale, 0, "only open cases without activity for N days");
  count_option(c, "--limit", a.limit, 1, "at most N cases");
  c.add_option("--sort", a.sort, "updated (default) | created | id | embargo")
      ->check(CLI::IsMember({"updated", "created", "id", "embargo"}));
  c.add_flag("--reverse", a.reverse, "the opposite order");
  tag_filter_option(c, a.list_tags, "only cases with this tag (repeatable: with all of them)");
}

void export_options(CLI::App& c, Args& a) {
  list_options(c, a);
  c.add_option("--format", a.export_format, "csv (default: RFC 4180, a header row) | json")
      ->check(CLI::IsMember({"csv", "json"}));
}

void assign_options(CLI::App& c, Args& a) {
  case_id(c, a);
  auto* user = c.add_option("USER", a.arg2, "assignee");
  auto* none = c.add_flag("--none", a.assign_none, "unassign the case")->excludes(user);
  c.callback([&a, user, none] {
    if (user->count() == 0 && none->count() == 0) fail(ExitCode::usage, "assign: give a USER or --none");
    if (user->count() > 0 && a.arg2.empty())
      fail(ExitCode::usage, "assign: the user name is empty (unassign with --none)");
  });
}

void comment_options(CLI::App& c, Args& a) {
  case_id(c, a);
  text_options(c, a);
}

void set_options(CLI::App& c, Args& a) {
  case_id(c, a);
  auto* embargo_opt = c.add_option("--embargo", a.embargo, "planned publication date YYYY-MM-DD ('none' clears)");
  c.add_option("--cve", a.disclosure.add_cves, "add a CVE id (repeatable)");
  c.add_option("--no-cve", a.disclosure.remove_cves, "remove a CVE id (repeatable)");
  auto* product_opt = c.add_option("--product", a.product, "affected product ('none' clears)");
  auto* versions_opt = c.add_option("--versions", a.versions, "affected versions ('none' clears)");
  auto* cvss_opt = c.add_option("--cvss", a.cvss, "CVSS:3.1/... or CVSS:4.0/... vector ('none' clears)");
  c.callback([&a, embargo_opt, product_opt, versions_opt, cvss_opt] {
    auto given = [](CLI::Option* o, const std::string& v) -> std::optional<std::string> {
      if (o->count() == 0) return std::nullopt;
      return v == "none" ? std::string() : v;
    };
    a.disclosure.embargo = given(embargo_opt, a.embargo);
    a.disclosure.product = given(product_opt, a.product);
    a.disclosure.versions = given(versions_opt, a.versions);
    a.disclosure.cvss = given(cvss_opt, a.cvss);
  });
}

void search_options(CLI::App& c, Args& a) {
  c.add_option("QUERY", a.query, "words (word* for a prefix) and tag:T from:ADDR subject:WORD cve:ID attachment:NAME")
      ->required();
  count_option(c, "--limit", a.limit, 1, "the best N cases (default 50)");
}

void stats_options(CLI::App& c, Args& a) {
  c.add_option("--since", a.since, "from this day (YYYY-MM-DD, UTC; default: 30 days before --until)");
  c.add_option("--until", a.until, "to the end of this day (YYYY-MM-DD, UTC; default: now)");
}

void reply_options(CLI::App& c, Args& a) {
  case_id(c, a);
  text_options(c, a);
  c.add_option("--to", a.reply_to, "recipient (repeatable); replaces the case's reporters");
  c.add_option("--cc", a.reply_cc, "also to this address, encrypted to its key too (repeatable)");
  c.add_option("--attach", a.reply_attach, "send this file inside the encryption (repeatable; 10 MiB in all)");
  c.add_flag("--sign-only", a.sign_only, "send signed but unencrypted when a recipient has no key");
}

void outbox_options(CLI::App& c, Args& a) {
  c.add_option("ACTION", a.action, "retry | cancel");
  c.add_option("OUTBOX_ID", a.outbox_id, "outbox entry");
}

void digest_options(CLI::App& c, Args& a) { c.add_flag("--send", a.digest_send, "mail it (signed) to digest.to"); }

void securitytxt_options(CLI::App& c, Args& a) { c.add_flag("--sign", a.sign, "clearsign it with the alias key"); }

void participant_options(CLI::App& c, Args& a) {
  case_id(c, a);
  c.add_option("ADDR", a.arg2, "address")->required();
  c.add_option("--role", a.role, "reporter | analyst | vendor | coordinator")
      ->check(CLI::IsMember({"reporter", "analyst", "vendor", "coordinator"}));
}

void keys_options(CLI::App& c, Args& a) {
  c.add_option("ACTION", a.action, "list | pin | export");
  c.add_option("ARGS", a.keys_args, "for pin: ADDR FINGERPRINT");
  c.add_flag("--binary", a.binary, "export: the binary key, as WKD serves it");
}

void backup_options(CLI::App& c, Args& a) {
  c.add_option("FILE", a.backup_file, "the copy to make (mode 0600)")->required();
  c.add_flag("--force", a.force, "replace FILE if it exists");
}

void verify_options(CLI::App& c, Args& a) {
  c.add_option("--database", a.verify_database, "the database to check (default: case.database)");
}

// Attachments out (cmd_attach.cpp).
void save_options(CLI::App& c, Args& a) {
  case_id(c, a);
  c.add_option("HANDLE", a.handles, "MSG.PART, as `attachments` lists them (default: every attachment)");
  auto* dir = c.add_option("--dir", a.save_dir, "write into DIR (default ./TAG-ID, created 0700)");
  c.add_flag("--stdout", a.save_stdout, "write the one HANDLE's bytes to stdout (not to a terminal)")->excludes(dir);
}

void raw_options(CLI::App& c, Args& a) {
  case_id(c, a);
  c.add_option("MSG", a.arg2, "message id, as `show` numbers them")->required();
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"init", "create or migrate the database (idempotent)", writes, no_options, cmd_init},
      {"ingest", "store one RFC 5322 message (file or stdin), or a whole mbox", writes, ingest_options, cmd_ingest},
      {"list", "list cases", reads, list_options, cmd_list},
      {"show", "show a case with its messages, comments and history", reads, case_id, cmd_show},
      {"assign", "assign a case to a user, or unassign it with --none", writes, assign_options, cmd_assign},
      {"take", "assign a case to oneself", writes, case_id, cmd_take},
      {"comment", "add an internal note (never mailed)", writes, comment_options, cmd_comment},
      {"status", "set the state: new | open | waiting | resolved | rejected (--reason why it is closed)", writes,
       status_options, cmd_status},
      {"tag", "add (+TAG) or remove (-TAG) tags", writes, tag_options, cmd_tag},
      {"set", "disclosure fields: embargo date, CVE ids, product, versions, CVSS vector", writes, set_options,
       cmd_set},
      {"search", "full text over subjects, decrypted bodies and comments, best first", searches, search_options,
       cmd_search},
      {"stats", "counts by state, cases opened and closed, response and resolution times", reads, stats_options,
       cmd_stats},
      {"export", "the cases list takes, every field whole: CSV (default) or JSON", reads, export_options,
       cmd_export},
      {"reply", "mail a reply: signed, and encrypted to every recipient", writes, reply_options, cmd_reply},
      {"outbox", "queued, sent and failed outbound mail; 'outbox retry ID'; 'outbox cancel ID'", outbox_access, outbox_options,
       cmd_outbox},
      {"digest", "reminder digest: prints it, or mails it with --send", digest_access, digest_options, cmd_digest},
      {"securitytxt", "print an RFC 9116 security.txt for the alias", no_database, securitytxt_options,
       cmd_securitytxt},
      {"participant", "add a verified participant to a case (reply recipient)", writes, participant_options,
       cmd_participant},
      {"merge", "merge case ID into case INTO: its messages, comments, participants, CVE ids and tags", writes,
       merge_options, cmd_merge},
      {"split", "move messages of case ID (ids as show lists them) into a new case", writes, split_options, cmd_split},
      {"keys", "keys per participant; 'keys pin ADDR FPR'; 'keys export'", keys_access, keys_options, cmd_keys},
      {"backup", "copy the database while cased runs: one consistent file, mode 0600", no_database,
       backup_options, cmd_backup},
      {"verify", "check a database (default: case.database) and its search index; exit 1 naming each problem",
       no_database, verify_options, cmd_verify},
      // Attachments out (cmd_attach.cpp).
      {"attachments", "list a case's attachments with their handles (MSG.PART)", reads, case_id, cmd_attachments},
      {"save", "write attachments (decrypted again) into ./TAG-ID or DIR, mode 0600, or one to stdout", writes,
       save_options, cmd_save},
      {"raw", "a stored message byte for byte to stdout (a file or a pipe, not a terminal)", reads, raw_options,
       cmd_raw},
      // The vendor contact book (cmd_vendor.cpp).
      {"vendor", "the vendor contact book: 'vendor add|edit NAME --contact ADDR [--key FILE|FPR]', list, show, remove, "
                 "import-securitytxt NAME FILE",
       vendor_access, vendor_options, cmd_vendor},
      // Advisories (cmd_advisory.cpp, advisory_publish.cpp).
      {"advisory", "a case's advisory: 'advisory ID init|show|edit|set FIELD VALUE|export --format csaf|cve|text|"
                   "publish --dir DIR [--announce ADDR] [--force --reason TEXT]'",
       advisory_access, advisory_options, cmd_advisory},
      // Coordinating with vendors (cmd_notify.cpp).
      {"notify", "mail each named vendor its own notification, encrypted to its key, to its contacts only", writes,
       notify_options, cmd_notify},
      {"vendor-status", "a vendor's state in a case, as a whole or for one --cve, with an optional --statement",
       writes, vendor_status_options, cmd_vendor_status},
      {"outreach", "record an attempt to reach a vendor: --via mail|phone|post|form|other -m TEXT", writes,
       outreach_options, cmd_outreach},
  };
  return table;
}

}  // namespace cased::cli
