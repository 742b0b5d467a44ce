#include "mail/lmtp.hpp"

#include "core/util.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace cased {

namespace {

// A client that keeps sending bad commands is broken or hostile; stop talking.
constexpr int kMaxConsecutiveErrors = 20;

// Commands are plain printable ASCII. NUL, a bare CR, other controls and 8-bit
// bytes (SMTPUTF8 is not offered) make the whole line invalid.
bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

// Reply texts come partly from the store and the daemon; a CR or LF in them
// would forge extra replies, so any control character becomes a space.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Splits off the next space-separated word; empty when none is left.
std::string_view next_word(std::string_view& s) {
  s = trim_spaces(s);
  std::string_view word = s.substr(0, s.find(' '));
  s.remove_prefix(word.size());
  return word;
}

struct Path {
  std::string address;      // without <>, source route dropped
  std::string_view params;  // the ESMTP parameters after the path
};

// Parses "FROM:<addr> params" / "TO:<addr> params" (keyword given with its
// colon). Spaces after the colon are tolerated, as real clients send them.
std::optional<Path> parse_path(std::string_view args, std::string_view keyword) {
  if (args.size() < keyword.size() || !iequals(args.substr(0, keyword.size()), keyword)) return std::nullopt;
  std::string_view rest = trim_spaces(args.substr(keyword.size()));
  if (rest.empty() || rest.front() != '<') return std::nullopt;

  // Find the closing '>' outside a quoted local part; unquoted spaces or '<'
  // mean the path is malformed.
  bool quoted = false;
  std::size_t close = std::string_view::npos;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    char c = rest[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '>') {
      close = i;
      break;
    } else if (!quoted && (c == ' ' || c == '<')) {
      return std::nullopt;
    }
  }
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view after = rest.substr(close + 1);
  if (!after.empty() && after.front() != ' ') return std::nullopt;

  std::string_view address = rest.substr(1, close - 1);
  // RFC 5321 4.1.1.3: a source route "@a,@b:" is accepted and ignored.
  if (!address.empty() && address.front() == '@') {
    std::size_t colon = address.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    address.remove_prefix(colon + 1);
  }
  return Path{std::string(address), trim_spaces(after)};
}

// SIZE=n. More than 19 digits is beyond any limit, so it saturates rather
// than overflowing.
std::optional<std::uint64_t> parse_size(std::string_view value) {
  if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  if (value.size() > 19) return std::numeric_limits<std::uint64_t>::max();
  std::uint64_t n = 0;
  for (char c : value) n = n * 10 + static_cast<std::uint64_t>(c - '0');
  return n;
}

}  // namespace

struct LmtpSession::Impl {
  enum class State {
    start,       // greeted; LHLO not yet seen
    ready,       // LHLO done, no transaction
    mail,        // MAIL accepted; collecting RCPTs
    data,        // after 354, reading the message
    delivering,  // message complete; paused until complete_delivery()
    closed,      // QUIT, 421 or too many errors; input is ignored
  };

  using Handler = void (Impl::*)(std::string_view args);
  struct Command {
    std::string_view verb;
    Handler handler;
  };

  Impl(std::string host, LmtpLimits lim, std::function<bool(std::string_view)> accept)
      : hostname(std::move(host)), limits(lim), accept_recipient(std::move(accept)) {
    // With a zero limit no byte could ever start a command line.
    limits.max_line = std::max<std::size_t>(limits.max_line, 1);
  }

  // --- input -------------------------------------------------------------

  // Consumes as much buffered input as the state allows. Each step either
  // consumes bytes or reports (0) that it needs more input to decide, so the
  // same bytes give the same result however they were split across feeds.
  void process() {
    std::string_view rest(input);
    while (!rest.empty() && state != State::delivering && state != State::closed) {
      std::size_t used = skipping_line ? skip_line(rest) : state == State::data ? step_data(rest) : step_command(rest);
      if (used == 0) break;
      rest.remove_prefix(used);
    }
    if (state == State::closed)
      input.clear();
    else
      input.erase(0, input.size() - rest.size());
  }

  // Discards the remainder of an over-long command line without buffering it.
  std::size_t skip_line(std::string_view rest) {
    std::size_t lf = rest.find('\n');
    if (lf == std::string_view::npos) return rest.size();
    skipping_line = false;
    return lf + 1;
  }

  std::size_t step_command(std::string_view rest) {
    // A line counts with its terminator; if max_line bytes hold no LF it is
    // too long whatever follows, so answer now and drop the rest of it.
    std::size_t lf = rest.substr(0, limits.max_line).find('\n');
    if (lf == std::string_view::npos) {
      if (rest.size() < limits.max_line) return 0;
      skipping_line = true;
      reject(500, "5.5.2", "Line too long");
      return limits.max_line;
    }
    handle_line(rest.substr(0, lf + 1));
    return lf + 1;
  }

  std::size_t step_data(std::string_view rest) {
    if (at_line_start) {
      if (rest[0] == '.') {
        // ".\r\n" or ".\n" ends the message; any other leading dot was added
        // by the client's dot-stuffing and is dropped.
        if (rest.size() < 2) return 0;
        if (rest[1] == '\n') return finish_data(2);
        if (rest[1] == '\r') {
          if (rest.size() < 3) return 0;
          if (rest[2] == '\n') return finish_data(3);
        }
        at_line_start = false;
        return 1;
      }
      at_line_start = false;
    }
    std::size_t lf = rest.find('\n');
    std::string_view piece = lf == std::string_view::npos ? rest : rest.substr(0, lf + 1);
    append_data(piece);
    at_line_start = lf != std::string_view::npos;
    return piece.size();
  }

  void append_data(std::string_view bytes) {
    if (too_big) return;
    if (message.size() + bytes.size() > limits.max_message_size) {
      // Keep scanning for the terminator but hold nothing more.
      too_big = true;
      message = std::string();
      return;
    }
    message.append(bytes);
  }

  std::size_t finish_data(std::size_t terminator_size) {
    if (too_big) {
      for (std::size_t i = 0; i < recipients.size(); ++i)
        reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
      reset_transaction();
    } else {
      pending = LmtpDelivery{mail_from, recipients, std::move(message)};
      message = std::string();
      state = State::delivering;
    }
    return terminator_size;
  }

  void handle_line(std::string_view line) {
    line.remove_suffix(1);  // the LF
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!printable_ascii(line)) return reject(500, "5.5.2", "Invalid character in command");

    line = trim_spaces(line);
    std::string_view verb = line.substr(0, line.find(' '));
    std::string_view args = trim_spaces(line.substr(verb.size()));

    static constexpr std::array<Command, 11> commands{{
        {"LHLO", &Impl::cmd_lhlo},
        {"MAIL", &Impl::cmd_mail},
        {"RCPT", &Impl::cmd_rcpt},
        {"DATA", &Impl::cmd_data},
        {"RSET", &Impl::cmd_rset},
        {"NOOP", &Impl::cmd_noop},
        {"QUIT", &Impl::cmd_quit},
        {"VRFY", &Impl::cmd_vrfy},
        {"HELP", &Impl::cmd_help},
        {"HELO", &Impl::cmd_helo},
        {"EHLO", &Impl::cmd_helo},
    }};
    for (const Command& c : commands)
      if (iequals(verb, c.verb)) return (this->*c.handler)(args);
    reject(500, "5.5.2", "Command unrecognized");
  }

  // --- commands ----------------------------------------------------------

  void cmd_lhlo(std::string_view args) {
    if (args.empty()) return reject(501, "5.5.4", "Syntax: LHLO hostname");
    // A repeated LHLO starts afresh, like RSET.
    reset_transaction();
    state = State::ready;
    output += "250-" + hostname + "\r\n";
    output += "250-PIPELINING\r\n";
    output += "250-ENHANCEDSTATUSCODES\r\n";
    output += "250-8BITMIME\r\n";
    // RFC 2034: the LHLO reply carries no enhanced codes.
    reply(250, {}, "SIZE " + std::to_string(limits.max_message_size));
  }

  // HELO and EHLO are SMTP; answering them would let a misconfigured MTA talk
  // SMTP semantics (one reply after DATA) to an LMTP server.
  void cmd_helo(std::string_view) { reject(500, "5.5.1", "This is LMTP, use LHLO"); }

  void cmd_mail(std::string_view args) {
    if (state == State::start) return reject(503, "5.5.1", "Send LHLO first");
    if (state == State::mail) return reject(503, "5.5.1", "Nested MAIL command");
    std::optional<Path> path = parse_path(args, "FROM:");
    if (!path) return reject(501, "5.5.4", "Syntax: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]");

    std::optional<std::uint64_t> size;
    bool body_seen = false;
    std::string_view params = path->params;
    for (std::string_view param = next_word(params); !param.empty(); param = next_word(params)) {
      std::size_t eq = param.find('=');
      std::string_view key = param.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
      if (iequals(key, "SIZE")) {
        if (size) return reject(501, "5.5.4", "Duplicate SIZE parameter");
        size = parse_size(value);
        if (!size) return reject(501, "5.5.4", "Bad SIZE parameter");
      } else if (iequals(key, "BODY")) {
        // The message is stored as received either way; 8BITMIME only promises we accept it.
        if (body_seen || !(iequals(value, "7BIT") || iequals(value, "8BITMIME")))
          return reject(501, "5.5.4", "Bad BODY parameter");
        body_seen = true;
      } else {
        return reject(555, "5.5.4", "Unsupported MAIL parameter");
      }
    }
    if (size && *size > limits.max_message_size)
      return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");

    mail_from = std::move(path->address);
    state = State::mail;
    reply(250, "2.1.0", "Sender OK");
  }

  void cmd_rcpt(std::string_view args) {
    if (state != State::mail) return reject(503, "5.5.1", "Need MAIL command");
    std::optional<Path> path = parse_path(args, "TO:");
    if (!path) return reject(501, "5.5.4", "Syntax: RCPT TO:<address>");
    if (path->address.empty()) return reject(501, "5.1.3", "Bad recipient address syntax");
    if (!path->params.empty()) return reject(555, "5.5.4", "Unsupported RCPT parameter");
    // Only accepted recipients are held, so this also bounds memory.
    if (recipients.size() >= limits.max_recipients) return reply(452, "4.5.3", "Too many recipients");
    if (!accept_recipient(path->address)) return reply(550, "5.1.1", "No such recipient here");
    recipients.push_back(std::move(path->address));
    reply(250, "2.1.5", "Recipient OK");
  }

  void cmd_data(std::string_view args) {
    if (!args.empty()) return reject(501, "5.5.4", "Syntax: DATA");
    if (state == State::start) return reject(503, "5.5.1", "Send LHLO first");
    if (state != State::mail) return reject(503, "5.5.1", "Need MAIL command");
    // Without a 354 the client must not send the message; if it pipelined it
    // anyway, its lines are read as commands (RFC 2920 3.1).
    if (recipients.empty()) return reject(503, "5.5.1", "No valid recipients");
    state = State::data;
    at_line_start = true;
    too_big = false;
    reply(354, {}, "End data with <CR><LF>.<CR><LF>");
  }

  void cmd_rset(std::string_view args) {
    if (!args.empty()) return reject(501, "5.5.4", "Syntax: RSET");
    reset_transaction();
    reply(250, "2.0.0", "OK");
  }

  void cmd_noop(std::string_view) { reply(250, "2.0.0", "OK"); }

  void cmd_quit(std::string_view) {
    reply(221, "2.0.0", hostname + " closing connection");
    close();
  }

  void cmd_vrfy(std::string_view args) {
    if (args.empty()) return reject(501, "5.5.4", "Syntax: VRFY address");
    reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
  }

  void cmd_help(std::string_view) { reply(214, "2.0.0", "Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"); }

  // --- output and state --------------------------------------------------

  void reply(int code, std::string_view enhanced, std::string_view text) {
    output += std::to_string(code);
    output += ' ';
    if (!enhanced.empty()) {
      output += one_line(enhanced);
      output += ' ';
    }
    output += one_line(text);
    output += "\r\n";
    if (code < 400) consecutive_errors = 0;
  }

  // A syntax or sequence error: counts towards the limit of consecutive
  // errors. Refusals of a valid request (550, 452, 552) do not count.
  void reject(int code, std::string_view enhanced, std::string_view text) {
    reply(code, enhanced, text);
    if (++consecutive_errors >= kMaxConsecutiveErrors) {
      reply(421, "4.7.0", "Too many errors, closing connection");
      close();
    }
  }

  // Back to "LHLO done, no transaction"; before LHLO (RSET) stays there.
  void reset_transaction() {
    mail_from.clear();
    recipients.clear();
    message = std::string();
    too_big = false;
    if (state != State::start) state = State::ready;
  }

  // Buffered input is dropped by process() or the caller, which may still be
  // reading it.
  void close() {
    state = State::closed;
    skipping_line = false;
    pending.reset();
    message = std::string();
  }

  void close_with(std::string_view enhanced, std::string_view text) {
    if (state == State::closed) return;
    reply(421, enhanced, text);
    close();
    input.clear();
  }

  std::string hostname;
  LmtpLimits limits;
  std::function<bool(std::string_view)> accept_recipient;

  State state = State::start;
  bool skipping_line = false;  // discarding the rest of an over-long command line
  int consecutive_errors = 0;
  std::string input;   // received, not yet consumed
  std::string output;  // replies not yet taken

  // The transaction.
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string message;        // DATA so far, dot-unstuffed
  bool at_line_start = true;  // DATA: next byte starts a line (dot rules apply)
  bool too_big = false;       // DATA: over max_message_size, being discarded
  std::optional<LmtpDelivery> pending;
};

LmtpOutcome outcome_for(const Error& error) {
  switch (error.code) {
    case Errc::temporary: return {451, "4.3.0", "temporary failure, please try again later"};
    // RFC 3463 X.3.1 "mail system full"; 452, as RFC 5321 has for insufficient storage.
    case Errc::full: return {452, "4.3.1", "mail system full, please try again later"};
    case Errc::busy: return {451, "4.3.0", "database busy, please try again later"};
    case Errc::unavailable: return {451, "4.3.0", "decryption temporarily unavailable, please try again later"};
    case Errc::internal: return {451, "4.3.0", "internal error, please try again later"};
    case Errc::invalid: return {554, "5.6.0", "message cannot be stored"};
    case Errc::refused: return {550, "5.7.1", "delivery refused"};
    case Errc::not_found: return {550, "5.1.1", "no such recipient here"};
  }
  // A code from outside the enum (a corrupt value): nothing is lost by retrying.
  return {451, "4.3.0", "temporary failure, please try again later"};
}

LmtpSession::LmtpSession(std::string hostname, LmtpLimits limits,
                         std::function<bool(std::string_view)> accept_recipient)
    : impl_(std::make_shared<Impl>(std::move(hostname), limits, std::move(accept_recipient))) {}

std::string LmtpSession::greeting() const { return "220 " + impl_->hostname + " LMTP cased ready\r\n"; }

void LmtpSession::feed(std::string_view bytes) {
  if (impl_->state == Impl::State::closed) return;
  impl_->input.append(bytes);
  impl_->process();
}

std::string LmtpSession::take_output() { return std::exchange(impl_->output, std::string()); }

std::optional<LmtpDelivery> LmtpSession::take_delivery() { return std::exchange(impl_->pending, std::nullopt); }

bool LmtpSession::awaiting_delivery() const { return impl_->state == Impl::State::delivering; }

void LmtpSession::complete_delivery(const std::vector<LmtpOutcome>& outcomes) {
  Impl& s = *impl_;
  if (s.state != Impl::State::delivering) return;
  const std::size_t n = s.recipients.size();
  for (std::size_t i = 0; i < n; ++i) {
    // A missing or malformed outcome must never turn into a false 250:
    // answer a temporary failure so the MTA retries (see Durability).
    const LmtpOutcome* o = outcomes.size() == n ? &outcomes[i] : outcomes.size() == 1 ? &outcomes[0] : nullptr;
    const LmtpOutcome none = outcome_for(Error{Errc::internal, "no delivery outcome"});
    if (!o || o->code < 200 || o->code > 599) o = &none;
    s.reply(o->code, o->enhanced, o->text);
  }
  s.pending.reset();
  s.reset_transaction();
  s.process();
}

void LmtpSession::shutdown(std::string_view why) { impl_->close_with("4.3.2", why.empty() ? "Shutting down" : why); }

void LmtpSession::timeout() { impl_->close_with("4.4.2", "idle timeout"); }

void LmtpSession::transaction_timeout() { impl_->close_with("4.4.2", "transaction timeout"); }

bool LmtpSession::busy() const {
  const Impl& s = *impl_;
  return s.state == Impl::State::mail || s.state == Impl::State::data || !s.input.empty() || s.skipping_line;
}

bool LmtpSession::closed() const { return impl_->state == Impl::State::closed; }

bool LmtpSession::in_data() const { return impl_->state == Impl::State::data; }

std::size_t LmtpSession::buffered_bytes() const {
  const Impl& s = *impl_;
  return s.input.size() + s.message.size() + (s.pending ? s.pending->data.size() : 0);
}

}  // namespace cased
