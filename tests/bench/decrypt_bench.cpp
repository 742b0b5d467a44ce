// decrypt_bench: PGP/MIME messages per second through the ingest path next
// to the bare GPGME decrypt+verify of the same ciphertext, in one process.
//
//   decrypt_bench GNUPGHOME MSGDIR [--seconds S] [--min N]
//
// GNUPGHOME holds the alias secret key and the reporter's public key; MSGDIR
// holds ready-made PGP/MIME messages (*.eml, encrypted and signed, RFC 3156),
// one per size; tests/bench/decrypt_bench.sh makes both. For each message:
//
//   bare     gpgme_op_decrypt_verify of the armored ciphertext taken from the
//            message, own context, data from memory, plaintext read out;
//   lookup   gpgme_get_key of the signer (Crypto does one per signed message);
//   parse    prepare_message without crypto (MIME parse + SHA-256 only);
//   ingest   prepare_message with a Crypto (parse, decrypt, verify) and
//            Store::ingest of a batch of one into a fresh database (WAL,
//            synchronous=FULL: one durable commit per message), each
//            iteration with its own Message-ID so none is a duplicate.
//
// Each runs once untimed (warm-up: gpg-agent, key cache), then until both
// --seconds (default 10) and --min iterations (default 5) are reached.
// Writes only MSGDIR/<name>.db (and its -wal/-shm), removed first.
#include <gpgme.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "crypto/crypto.hpp"
#include "crypto/pgp_gpgme.hpp"
#include "store/store.hpp"
#include "../store_access.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The library's own owners of GPGME handles (crypto/pgp_gpgme.hpp).
using cased::pgp::Ctx;
using cased::pgp::Data;
using cased::pgp::Key;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "decrypt_bench: " << what << "\n";
  std::exit(1);
}

void check_gpg(gpgme_error_t err, const char* what) {
  if (err != 0) die(fmt::format("{}: {}", what, gpgme_strerror(err)));
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) die("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The armored OpenPGP message inside the raw mail, exactly as it is there.
std::string armored_ciphertext(const std::string& raw) {
  auto begin = raw.find("-----BEGIN PGP MESSAGE-----");
  auto end = raw.find("-----END PGP MESSAGE-----", begin);
  if (begin == std::string::npos || end == std::string::npos) die("no armored PGP message in the input");
  end += std::string_view("-----END PGP MESSAGE-----").size();
  return raw.substr(begin, end - begin) + "\r\n";
}

// `raw` with its top-level Message-ID value replaced by <id>.
class MessageIdRewriter {
 public:
  explicit MessageIdRewriter(std::string raw) : raw_(std::move(raw)) {
    auto header_end = raw_.find("\r\n\r\n");
    if (header_end == std::string::npos) header_end = raw_.find("\n\n");
    std::size_t pos = 0;
    while (pos < header_end) {
      auto eol = raw_.find('\n', pos);
      if (raw_.compare(pos, 11, "Message-ID:") == 0 || raw_.compare(pos, 11, "Message-Id:") == 0) {
        begin_ = pos;
        end_ = eol;  // keeps the line end (and no folded value is expected here)
        return;
      }
      pos = eol + 1;
    }
    die("the input has no Message-ID header");
  }
  std::string with_id(const std::string& id) const {
    std::string out;
    out.reserve(raw_.size() + 64);
    out.append(raw_, 0, begin_);
    out += "Message-ID: <" + id + ">";
    if (end_ > 0 && raw_[end_ - 1] == '\r') out += '\r';
    out.append(raw_, end_, std::string::npos);
    return out;
  }

 private:
  std::string raw_;
  std::size_t begin_ = 0, end_ = 0;
};

Ctx make_context(const std::string& home) {
  gpgme_ctx_t c = nullptr;
  check_gpg(gpgme_new(&c), "gpgme_new");
  Ctx ctx(c);
  check_gpg(gpgme_set_protocol(c, GPGME_PROTOCOL_OpenPGP), "gpgme_set_protocol");
  check_gpg(gpgme_ctx_set_engine_info(c, GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str()), "engine info");
  gpgme_set_pinentry_mode(c, GPGME_PINENTRY_MODE_LOOPBACK);
  gpgme_set_offline(c, 1);
  return ctx;
}

struct Decrypted {
  std::size_t plaintext = 0;
  std::string signer;  // fingerprint from the signature (of the signing subkey)
};

Decrypted bare_decrypt(gpgme_ctx_t c, const std::string& ciphertext) {
  gpgme_data_t raw_in = nullptr, raw_out = nullptr;
  check_gpg(gpgme_data_new_from_mem(&raw_in, ciphertext.data(), ciphertext.size(), 0), "gpgme_data_new_from_mem");
  Data in(raw_in);
  check_gpg(gpgme_data_new(&raw_out), "gpgme_data_new");
  Data out(raw_out);
  check_gpg(gpgme_op_decrypt_verify(c, in.get(), out.get()), "gpgme_op_decrypt_verify");
  gpgme_verify_result_t vr = gpgme_op_verify_result(c);
  if (!vr || !vr->signatures || gpgme_err_code(vr->signatures->status) != GPG_ERR_NO_ERROR)
    die("the bare decrypt did not find a good signature");
  Decrypted d;
  d.signer = vr->signatures->fpr ? vr->signatures->fpr : "";
  // Read the plaintext out, as Crypto does.
  std::string plain;
  gpgme_data_seek(out.get(), 0, SEEK_SET);
  char buf[16384];
  for (;;) {
    ssize_t n = gpgme_data_read(out.get(), buf, sizeof buf);
    if (n <= 0) break;
    plain.append(buf, static_cast<std::size_t>(n));
  }
  d.plaintext = plain.size();
  return d;
}

struct Timing {
  int iterations = 0;
  double seconds = 0;
  double ms_per_op() const { return seconds * 1000.0 / iterations; }
  double per_second() const { return iterations / seconds; }
};

// Runs `op(i)` once untimed, then until `seconds` and `min` are both reached.
// `op` returns the seconds it spent in the part being measured.
Timing run(double seconds, int min, const std::function<double(int)>& op) {
  op(-1);
  Timing t;
  auto start = Clock::now();
  for (;;) {
    t.seconds += op(t.iterations);
    ++t.iterations;
    double wall = std::chrono::duration<double>(Clock::now() - start).count();
    if (wall >= seconds && t.iterations >= min) break;
  }
  return t;
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

long peak_rss_kb(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return ru.ru_maxrss;
}

std::string human(std::size_t bytes) {
  if (bytes >= 1024 * 1024) return fmt::format("{:.2f} MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return fmt::format("{:.1f} KB", static_cast<double>(bytes) / 1024.0);
}

struct Row {
  std::string name;
  std::size_t raw_size = 0, plaintext = 0;
  Timing bare, lookup, parse, ingest;
  double ingest_prepare = 0, ingest_store = 0;  // seconds, summed over the timed iterations
  long rss_self_kb = 0, rss_children_kb = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  double seconds = 10;
  int min = 5;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--seconds" && i + 1 < args.size()) seconds = std::stod(args[++i]);
    else if (args[i] == "--min" && i + 1 < args.size()) min = std::stoi(args[++i]);
    else positional.push_back(args[i]);
  }
  if (positional.size() != 2) die("usage: decrypt_bench GNUPGHOME MSGDIR [--seconds S] [--min N]");
  const std::string home = positional[0];
  const fs::path dir = positional[1];
  spdlog::set_level(spdlog::level::warn);

  gpgme_check_version(nullptr);
  gpgme_set_locale(nullptr, LC_CTYPE, "C");
  check_gpg(gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP), "gpg engine");

  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".eml") inputs.push_back(e.path());
  if (inputs.empty()) die("no *.eml in " + dir.string());
  std::sort(inputs.begin(), inputs.end(), [](auto& a, auto& b) { return fs::file_size(a) < fs::file_size(b); });

  Ctx ctx = make_context(home);
  cased::Crypto crypto(home);  // the ingest path's own context, as a daemon worker holds one
  std::vector<Row> rows;

  for (const auto& path : inputs) {
    Row row;
    row.name = path.stem().string();
    const std::string raw = read_file(path);
    row.raw_size = raw.size();
    const std::string ciphertext = armored_ciphertext(raw);
    const MessageIdRewriter rewriter(raw);
    std::cerr << fmt::format("{}: {} message, {} ciphertext\n", row.name, human(raw.size()), human(ciphertext.size()));

    // (a) bare GPGME.
    std::string signer;
    row.bare = run(seconds, min, [&](int) {
      auto t0 = Clock::now();
      Decrypted d = bare_decrypt(ctx.get(), ciphertext);
      double s = since(t0);
      row.plaintext = d.plaintext;
      signer = d.signer;
      return s;
    });

    // The signer lookup Crypto adds to every signed message.
    row.lookup = run(seconds, min, [&](int) {
      auto t0 = Clock::now();
      gpgme_key_t k = nullptr;
      check_gpg(gpgme_get_key(ctx.get(), signer.c_str(), &k, 0), "gpgme_get_key");
      Key owner(k);
      return since(t0);
    });

    // MIME parse and hash alone.
    row.parse = run(seconds, min, [&](int i) {
      std::string copy = rewriter.with_id(fmt::format("parse-{}-{}@bench.invalid", row.name, i));
      auto t0 = Clock::now();
      cased::PreparedMessage p = cased::prepare_message(std::move(copy), cased::Envelope{cased::MessageSource::ingest, std::nullopt, {}});
      return since(t0);
    });

    // (b) the ingest path into a fresh database.
    const fs::path db = dir / (row.name + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
    auto opened = cased::Store::open(db.string(), cased::StoreOptions{});
    if (!opened) die("cannot open the store: " + opened.error().message);
    cased::Store store = std::move(opened.value());
    double prepare_sum = 0, store_sum = 0;
    row.ingest = run(seconds, min, [&](int i) {
      std::string copy = rewriter.with_id(fmt::format("ingest-{}-{}@bench.invalid", row.name, i + 1));
      auto t0 = Clock::now();
      std::vector<cased::PreparedMessage> batch;
      batch.push_back(cased::prepare_message(std::move(copy), cased::Envelope{cased::MessageSource::ingest, std::nullopt, {}}, &crypto));
      auto t1 = Clock::now();
      auto results = store.ingest(batch);
      auto t2 = Clock::now();
      const auto& pm = batch.front().parsed;
      if (pm.decryption != cased::DecryptionState::ok || pm.signature != cased::SignatureState::good)
        die(fmt::format("ingest: decryption {}, signature {} ({})", to_string(pm.decryption), to_string(pm.signature), pm.decryption_error));
      if (!results) die("ingest: commit failed: " + results.error().message);
      auto& r = results->front();
      if (!r) die("ingest: " + r.error().message);
      if (r->duplicate || !r->new_case) die("ingest: stored as a duplicate or into an existing case");
      if (i >= 0) {
        prepare_sum += std::chrono::duration<double>(t1 - t0).count();
        store_sum += std::chrono::duration<double>(t2 - t1).count();
      }
      return std::chrono::duration<double>(t2 - t0).count();
    });
    row.ingest_prepare = prepare_sum;
    row.ingest_store = store_sum;
    auto& count = cased::StoreTestAccess::db(store).cached("SELECT count(*) FROM messages");
    count.step();
    std::int64_t stored = count.int64(0);
    count.reset();
    if (stored != row.ingest.iterations + 1) die(fmt::format("stored {} of {}", stored, row.ingest.iterations + 1));

    row.rss_self_kb = peak_rss_kb(RUSAGE_SELF);
    row.rss_children_kb = peak_rss_kb(RUSAGE_CHILDREN);
    rows.push_back(row);
  }

  std::cout << "| message | plaintext | bare GPGME msg/s | ingest msg/s | ingest time over bare | "
               "peak RSS (bench process) | peak RSS (largest gpg child) |\n"
               "|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    std::cout << fmt::format("| {} ({}) | {} | {:.1f} | {:.1f} | +{:.0f}% | {} MB | {} MB |\n", r.name,
                             human(r.raw_size), human(r.plaintext), r.bare.per_second(), r.ingest.per_second(),
                             (r.ingest.ms_per_op() / r.bare.ms_per_op() - 1.0) * 100.0, r.rss_self_kb / 1024,
                             r.rss_children_kb / 1024);
  std::cout << "\nMilliseconds per message (iterations in brackets):\n\n"
               "| message | bare decrypt+verify | signer key lookup | MIME parse + hash | ingest total | "
               "of which prepare (parse, decrypt, verify) | of which store + durable commit |\n"
               "|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    std::cout << fmt::format("| {} | {:.2f} [{}] | {:.2f} [{}] | {:.2f} [{}] | {:.2f} [{}] | {:.2f} | {:.2f} |\n", r.name,
                             r.bare.ms_per_op(), r.bare.iterations, r.lookup.ms_per_op(), r.lookup.iterations,
                             r.parse.ms_per_op(), r.parse.iterations, r.ingest.ms_per_op(), r.ingest.iterations,
                             r.ingest_prepare * 1000.0 / r.ingest.iterations,
                             r.ingest_store * 1000.0 / r.ingest.iterations);
  return 0;
}
