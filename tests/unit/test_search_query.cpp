// The search query's parser (cases/search_query.hpp): words, field terms,
// quoting, and what it refuses.
#include <catch2/catch.hpp>

#include "cases/search_query.hpp"

using namespace cased;

TEST_CASE("search query: words and fields are told apart", "[search_query]") {
  auto q = parse_search_query("heap  overflow tag:Web from:Reporter@Example.ORG subject:parser* cve:cve-2026-1234 "
                              "attachment:poc.c");
  REQUIRE(q.ok());
  CHECK(q->words == "heap overflow");
  CHECK(q->tags == std::vector<std::string>{"web"});
  CHECK(q->from == std::vector<std::string>{"reporter@example.org"});
  CHECK(q->subject == std::vector<std::string>{"parser*"});
  CHECK(q->cves == std::vector<std::string>{"CVE-2026-1234"});
  CHECK(q->attachments == std::vector<std::string>{"poc.c"});
  CHECK(q->has_fields());
}

TEST_CASE("search query: fields alone, repeated fields, names in any case", "[search_query]") {
  auto q = parse_search_query("TAG:a Tag:b FROM:@example.org");
  REQUIRE(q.ok());
  CHECK(q->words.empty());
  CHECK(q->tags == std::vector<std::string>{"a", "b"});
  CHECK(q->from == std::vector<std::string>{"@example.org"});
  auto bracketed = parse_search_query("from:<Rita@Example.org>");
  REQUIRE(bracketed.ok());
  CHECK(bracketed->from == std::vector<std::string>{"rita@example.org"});
}

TEST_CASE("search query: quoted values hold spaces and doubled quotes", "[search_query]") {
  auto q = parse_search_query("attachment:\"my poc.tar.gz\" subject:\"say \"\"hi\"\"\" rest");
  REQUIRE(q.ok());
  CHECK(q->attachments == std::vector<std::string>{"my poc.tar.gz"});
  CHECK(q->subject == std::vector<std::string>{"say \"hi\""});
  CHECK(q->words == "rest");
}

TEST_CASE("search query: an unknown name and stray syntax are words", "[search_query]") {
  auto q = parse_search_query("foo:bar : NEAR( \"");
  REQUIRE(q.ok());
  CHECK(q->words == "foo:bar : NEAR( \"");
  CHECK_FALSE(q->has_fields());
  // An unclosed quote in a value is kept as written, never an error.
  auto open = parse_search_query("from:\"");
  REQUIRE(open.ok());
  CHECK(open->from == std::vector<std::string>{"\""});
}

TEST_CASE("search query: empty values and empty queries are refused, naming the field", "[search_query]") {
  auto empty_tag = parse_search_query("words tag:");
  REQUIRE_FALSE(empty_tag.ok());
  CHECK(empty_tag.error().code == Errc::invalid);
  CHECK(empty_tag.error().message.find("tag:") != std::string::npos);
  CHECK_FALSE(parse_search_query("from:\"\"").ok());
  CHECK_FALSE(parse_search_query("").ok());
  CHECK_FALSE(parse_search_query(" \t ").ok());
}

TEST_CASE("search query: words quoted for FTS5", "[search_query]") {
  CHECK(fts_quoted_words("heap overflow") == "\"heap\" \"overflow\"");
  CHECK(fts_quoted_words("pars*") == "\"pars\"*");
  CHECK(fts_quoted_words("say\"hi") == "\"say\"\"hi\"");
  CHECK(fts_quoted_words("* ") == "");
  CHECK(fts_quoted_words("") == "");
}
