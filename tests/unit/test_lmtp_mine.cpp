#include <catch2/catch.hpp>
#include <random>

#include "mail/lmtp.hpp"

using namespace cased;

namespace {

struct Run {
  std::string output;
  std::vector<LmtpDelivery> deliveries;
  bool closed = false;
};

LmtpLimits small_limits() {
  LmtpLimits l;
  l.max_message_size = 1000;
  l.max_line = 512;
  l.max_recipients = 3;
  return l;
}

// Feeds `input` in chunks of the sizes `chunker` returns; every delivery is
// answered 250 at once.
template <class Chunker>
Run run(const std::string& input, Chunker chunker, LmtpLimits limits = small_limits()) {
  LmtpSession s("test.example", limits, [](std::string_view rcpt) {
    return rcpt == "security@example.com" || rcpt.rfind("security+", 0) == 0;
  });
  Run r;
  r.output = s.greeting();
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t n = std::min(chunker(), input.size() - pos);
    s.feed(std::string_view(input).substr(pos, n));
    pos += n;
    while (auto d = s.take_delivery()) {
      r.deliveries.push_back(*d);
      r.output += s.take_output();
      s.complete_delivery({LmtpOutcome{250, "2.0.0", "stored"}});
    }
  }
  r.output += s.take_output();
  r.closed = s.closed();
  return r;
}

// The same input whole, byte by byte and in random chunks must give the same result.
Run run_all_ways(const std::string& input, LmtpLimits limits = small_limits()) {
  Run whole = run(input, [&] { return input.size() + 1; }, limits);
  Run bytes = run(input, [] { return std::size_t{1}; }, limits);
  std::mt19937 rng(42);
  Run random = run(input, [&] { return std::size_t{1} + rng() % 17; }, limits);
  REQUIRE(bytes.output == whole.output);
  REQUIRE(random.output == whole.output);
  REQUIRE(bytes.deliveries.size() == whole.deliveries.size());
  REQUIRE(random.deliveries.size() == whole.deliveries.size());
  for (std::size_t i = 0; i < whole.deliveries.size(); ++i) {
    REQUIRE(bytes.deliveries[i].data == whole.deliveries[i].data);
    REQUIRE(random.deliveries[i].data == whole.deliveries[i].data);
  }
  return whole;
}

std::vector<std::string> codes(const std::string& output) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < output.size()) {
    auto eol = output.find("\r\n", pos);
    std::string line = output.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.size() >= 4 && line[3] == '-') continue;  // continuation of a multi-line reply
    out.push_back(line.substr(0, 3));
  }
  return out;
}

const std::string kTx =
    "LHLO client.example\r\nMAIL FROM:<rita@example.org>\r\nRCPT TO:<security@example.com>\r\nDATA\r\n";

}  // namespace

TEST_CASE("lmtp (transcripts): a pipelined transaction in one write", "[lmtp]") {
  Run r = run_all_ways(kTx + "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  CHECK(codes(r.output) == std::vector<std::string>{"220", "250", "250", "250", "354", "250", "221"});
  REQUIRE(r.deliveries.size() == 1);
  CHECK(r.deliveries[0].mail_from == "rita@example.org");
  CHECK(r.deliveries[0].recipients == std::vector<std::string>{"security@example.com"});
  CHECK(r.deliveries[0].data == "Subject: x\r\n\r\nbody\r\n");
  CHECK(r.closed);
  CHECK(r.output.find("PIPELINING") != std::string::npos);
  CHECK(r.output.find("ENHANCEDSTATUSCODES") != std::string::npos);
  CHECK(r.output.find("8BITMIME") != std::string::npos);
  CHECK(r.output.find("SIZE 1000") != std::string::npos);
  CHECK(r.output.find("CHUNKING") == std::string::npos);
}

TEST_CASE("lmtp (transcripts): one reply per accepted recipient, with its own outcome", "[lmtp]") {
  LmtpSession s("h", small_limits(), [](std::string_view r) { return r != "nobody@example.com"; });
  s.feed("LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<nobody@example.com>\r\n"
         "RCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n");
  auto d = s.take_delivery();
  REQUIRE(d);
  CHECK(d->mail_from.empty());
  CHECK(d->recipients.size() == 2);
  CHECK(s.awaiting_delivery());
  std::string before = s.take_output();
  CHECK(before.find("550 5.1.1") != std::string::npos);
  CHECK(before.find("NOOP") == std::string::npos);
  s.complete_delivery({LmtpOutcome{250, "2.0.0", "ok"}, LmtpOutcome{451, "4.3.0", "later"}});
  std::string after = s.take_output();
  CHECK(after.find("250 2.0.0") == 0);
  CHECK(after.find("\r\n451 4.3.0") != std::string::npos);
  CHECK(after.find("250 2.0.0 OK") != std::string::npos);  // the pipelined NOOP, after the replies
}

TEST_CASE("lmtp (transcripts): dot-unstuffing and bare LF line ends", "[lmtp]") {
  Run r = run_all_ways(kTx + "..leading dot\r\n.\r\n");
  REQUIRE(r.deliveries.size() == 1);
  CHECK(r.deliveries[0].data == ".leading dot\r\n");
  Run lf = run_all_ways("LHLO c\nMAIL FROM:<a@b.c>\nRCPT TO:<security@example.com>\nDATA\nline\n..x\n.\n");
  REQUIRE(lf.deliveries.size() == 1);
  CHECK(lf.deliveries[0].data == "line\n.x\n");
  Run notend = run_all_ways(kTx + ". not the end\r\n.x\r\n.\r\n");
  REQUIRE(notend.deliveries.size() == 1);
  CHECK(notend.deliveries[0].data == " not the end\r\nx\r\n");
}

TEST_CASE("lmtp (transcripts): sequence errors", "[lmtp]") {
  Run r = run_all_ways(
      "MAIL FROM:<a@b.c>\r\nHELO x\r\nEHLO x\r\nLHLO c\r\nRCPT TO:<security@example.com>\r\nDATA\r\n"
      "MAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<nobody@else.org>\r\nDATA\r\nThis is a line\r\n.\r\nQUIT\r\n");
  CHECK(codes(r.output) == std::vector<std::string>{"220", "503", "500", "500", "250", "503", "503", "250", "503",
                                                    "550", "503", "500", "500", "221"});
  CHECK(r.deliveries.empty());
}

TEST_CASE("lmtp (transcripts): SIZE and oversize data", "[lmtp]") {
  Run announced = run_all_ways("LHLO c\r\nMAIL FROM:<a@b.c> SIZE=5000\r\nMAIL FROM:<a@b.c> SIZE=10 BODY=8BITMIME\r\n"
                               "RSET\r\nMAIL FROM:<a@b.c> FOO=1\r\nMAIL FROM:<a@b.c> SIZE=x\r\n");
  CHECK(codes(announced.output) == std::vector<std::string>{"220", "250", "552", "250", "250", "555", "501"});
  CHECK(announced.output.find("552 5.3.4") != std::string::npos);
  std::string big(5000, 'x');
  Run over = run_all_ways(kTx + big + "\r\n.\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<security@example.com>\r\nDATA\r\nsmall\r\n.\r\n");
  CHECK(codes(over.output) == std::vector<std::string>{"220", "250", "250", "250", "354", "552", "250", "250", "354", "250"});
  REQUIRE(over.deliveries.size() == 1);
  CHECK(over.deliveries[0].data == "small\r\n");
}

TEST_CASE("lmtp (transcripts): over-long command lines, then the session goes on", "[lmtp]") {
  std::string long_line(600, 'A');
  Run r = run_all_ways(long_line + "\r\n" + "NOOP " + std::string(2000, 'B') + "\r\n" + kTx + "x\r\n.\r\n");
  CHECK(codes(r.output) == std::vector<std::string>{"220", "500", "500", "250", "250", "250", "354", "250"});
  CHECK(r.output.find("500 5.5.2") != std::string::npos);
  REQUIRE(r.deliveries.size() == 1);
  // A line of exactly 512 octets with CRLF is allowed.
  std::string exact = "NOOP " + std::string(505, 'c') + "\r\n";
  REQUIRE(exact.size() == 512);
  Run ok = run_all_ways(exact);
  CHECK(codes(ok.output) == std::vector<std::string>{"220", "250"});
  // Lines inside DATA may be any length.
  Run data = run_all_ways(kTx + std::string(900, 'd') + "\r\n.\r\n");
  REQUIRE(data.deliveries.size() == 1);
  CHECK(data.deliveries[0].data.size() == 902);
}

TEST_CASE("lmtp (transcripts): binary garbage is answered, never fatal", "[lmtp]") {
  std::string garbage("\x00\x01\xff\xfe\r\n", 6);
  Run r = run_all_ways(garbage + "LHLO c\r\n");
  CHECK(codes(r.output) == std::vector<std::string>{"220", "500", "250"});
}

TEST_CASE("lmtp (transcripts): too many recipients and too many errors", "[lmtp]") {
  Run r = run_all_ways("LHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<security+1@x>\r\nRCPT TO:<security+2@x>\r\n"
                       "RCPT TO:<security+3@x>\r\nRCPT TO:<security+4@x>\r\n");
  CHECK(codes(r.output).back() == "452");
  std::string errors;
  for (int i = 0; i < 25; ++i) errors += "BOGUS\r\n";
  Run e = run_all_ways(errors);
  CHECK(e.closed);
  CHECK(e.output.find("421 4.7.0") != std::string::npos);
}

TEST_CASE("lmtp (transcripts): RSET, VRFY, HELP, shutdown and timeout", "[lmtp]") {
  Run r = run_all_ways(kTx.substr(0, kTx.size() - 6) + "RSET\r\nDATA\r\nVRFY x\r\nHELP\r\n");
  CHECK(codes(r.output) == std::vector<std::string>{"220", "250", "250", "250", "250", "503", "252", "214"});
  LmtpSession s("h", small_limits(), [](std::string_view) { return true; });
  s.feed("LHLO c\r\n");
  s.shutdown("going down");
  CHECK(s.closed());
  CHECK(s.take_output().find("421 4.3.2 going down") != std::string::npos);
  s.feed("NOOP\r\n");
  CHECK(s.take_output().empty());
  LmtpSession t("h", small_limits(), [](std::string_view) { return true; });
  t.timeout();
  CHECK(t.take_output().find("421 4.4.2") == 0);
}

TEST_CASE("lmtp (transcripts): random and mutated input never breaks the invariants", "[lmtp][fuzz]") {
  std::mt19937 rng(1234);
  const std::string valid = kTx + "Subject: x\r\n\r\n..body\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n";
  for (int i = 0; i < 3000; ++i) {
    std::string input = valid;
    int mutations = 1 + static_cast<int>(rng() % 8);
    for (int m = 0; m < mutations; ++m) {
      std::size_t pos = rng() % (input.size() + 1);
      switch (rng() % 4) {
        case 0: if (pos < input.size()) input[pos] = static_cast<char>(rng() & 0xff); break;
        case 1: input.insert(pos, 1 + rng() % 40, static_cast<char>(rng() & 0xff)); break;
        case 2: input.erase(pos, rng() % 20); break;
        default: input.insert(pos, "\r\n.\r\n"); break;
      }
    }
    if (i % 10 == 0) {
      input.resize(rng() % 2048);
      for (char& c : input) c = static_cast<char>(rng() & 0xff);
    }
    Run r = run(input, [&] { return std::size_t{1} + rng() % 64; });
    // Every reply is a complete line starting with three digits.
    for (const auto& code : codes(r.output)) {
      REQUIRE(code.size() == 3);
      REQUIRE(std::isdigit(static_cast<unsigned char>(code[0])));
    }
    for (const auto& d : r.deliveries) {
      REQUIRE(d.data.size() <= small_limits().max_message_size);
      REQUIRE(!d.recipients.empty());
    }
  }
}
