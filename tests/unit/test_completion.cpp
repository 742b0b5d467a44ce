// The table the shell completion reads (cli/completion.hpp), from a CLI11
// app built here.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cli/completion.hpp"

using cased::cli::completion_table;

TEST_CASE("completion: one line per command with its options, values and arguments", "[completion]") {
  CLI::App app{"test"};
  std::string s, sort, file;
  bool flag = false;
  std::vector<std::string> many;
  auto* list = app.add_subcommand("list", "list");
  list->add_option("--status", many)->check(CLI::IsMember({"new", "open"}));
  list->add_flag("--all", flag);
  list->add_option("--assignee,-a", s);
  list->add_option("--sort", sort)->check(CLI::IsMember({"id", "created"}));
  auto* status = app.add_subcommand("status", "status");
  status->add_option("ID", s)->required();
  status->add_option("STATE", sort)->check(CLI::IsMember({"new", "open"}));
  auto* outbox = app.add_subcommand("outbox", "outbox");
  outbox->add_subcommand("cancel", "cancel")->add_option("OUTBOX_ID", s);
  outbox->add_subcommand("retry", "retry");
  app.add_subcommand("init", "init");
  CHECK(completion_table(app) ==
        "list --status=new,open --all --assignee= -a= --sort=id,created\n"
        "status +ID +STATE=new,open\n"
        "outbox +COMMAND=cancel,retry\n"
        "init\n");
}

TEST_CASE("completion: a validator that is not a plain set offers no values", "[completion]") {
  CLI::App app{"test"};
  int n = 0;
  std::string text;
  auto* c = app.add_subcommand("search", "search");
  c->add_option("--limit", n)->check(CLI::Range(1, 10));
  c->add_option("--word", text)->check(CLI::IsMember({"has space", "ok"}));
  CHECK(completion_table(app) == "search --limit= --word=\n");
}
