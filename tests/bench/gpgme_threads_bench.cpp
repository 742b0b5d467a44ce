// gpgme_threads_bench: the bare GPGME decrypt+verify rate of one PGP/MIME
// message on N threads at once: the ceiling for PGP mail through cased.
//
//   gpgme_threads_bench GNUPGHOME MESSAGE.eml [--threads N] [--seconds S]
//                       [--context per-thread|per-op|per-op-global]
//
// Takes the armored ciphertext out of MESSAGE.eml (RFC 3156, as made by
// tests/bench/lmtp_pgp_bench.sh or decrypt_bench.sh) and has each of N
// threads (default 2) run gpgme_op_decrypt_verify on it in a loop, data from
// memory, plaintext read out, good signature checked, for S seconds (default
// 10) after one untimed warm-up per thread. With --context per-thread
// (default) each thread makes one gpgme context and reuses it; with per-op
// each operation gets a fresh context (gpgme_new, engine info with the home),
// as cased's Crypto does for every operation that reaches gpg-agent; GPGME
// then runs `gpg --version` for every context. With per-op-global the home is
// set once for the process (gpgme_set_engine_info) and each operation's fresh
// context inherits it without setting it again.
// Prints one line: threads, context mode, operations, seconds, msgs/s, ms/op.
// Needs only GPGME.
#include <gpgme.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct CtxRelease {
  void operator()(gpgme_ctx_t c) const { gpgme_release(c); }
};
struct DataRelease {
  void operator()(gpgme_data_t d) const { gpgme_data_release(d); }
};
using Ctx = std::unique_ptr<gpgme_context, CtxRelease>;
using Data = std::unique_ptr<gpgme_data, DataRelease>;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "gpgme_threads_bench: " << what << "\n";
  std::exit(1);
}

void check_gpg(gpgme_error_t err, const char* what) {
  if (err != 0) die(std::string(what) + ": " + gpgme_strerror(err));
}

std::string armored_ciphertext(const std::string& raw) {
  auto begin = raw.find("-----BEGIN PGP MESSAGE-----");
  auto end = raw.find("-----END PGP MESSAGE-----", begin);
  if (begin == std::string::npos || end == std::string::npos) die("no armored PGP message in the input");
  end += std::string_view("-----END PGP MESSAGE-----").size();
  return raw.substr(begin, end - begin) + "\r\n";
}

// An empty `home`: the process-wide engine info (gpgme_set_engine_info).
Ctx make_context(const std::string& home) {
  gpgme_ctx_t c = nullptr;
  check_gpg(gpgme_new(&c), "gpgme_new");
  Ctx ctx(c);
  check_gpg(gpgme_set_protocol(c, GPGME_PROTOCOL_OpenPGP), "gpgme_set_protocol");
  if (!home.empty())
    check_gpg(gpgme_ctx_set_engine_info(c, GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str()), "engine info");
  gpgme_set_pinentry_mode(c, GPGME_PINENTRY_MODE_LOOPBACK);
  gpgme_set_offline(c, 1);
  return ctx;
}

void decrypt_verify(gpgme_ctx_t c, const std::string& ciphertext) {
  gpgme_data_t raw_in = nullptr, raw_out = nullptr;
  check_gpg(gpgme_data_new_from_mem(&raw_in, ciphertext.data(), ciphertext.size(), 0), "gpgme_data_new_from_mem");
  Data in(raw_in);
  check_gpg(gpgme_data_new(&raw_out), "gpgme_data_new");
  Data out(raw_out);
  check_gpg(gpgme_op_decrypt_verify(c, in.get(), out.get()), "gpgme_op_decrypt_verify");
  gpgme_verify_result_t vr = gpgme_op_verify_result(c);
  if (!vr || !vr->signatures || gpgme_err_code(vr->signatures->status) != GPG_ERR_NO_ERROR)
    die("no good signature");
  std::string plain;
  gpgme_data_seek(out.get(), 0, SEEK_SET);
  char buf[16384];
  for (;;) {
    ssize_t n = gpgme_data_read(out.get(), buf, sizeof buf);
    if (n <= 0) break;
    plain.append(buf, static_cast<std::size_t>(n));
  }
  if (plain.empty()) die("empty plaintext");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc), positional;
  int threads = 2;
  double seconds = 10;
  enum class Mode { per_thread, per_op, per_op_global } mode = Mode::per_thread;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--threads" && i + 1 < args.size()) threads = std::stoi(args[++i]);
    else if (args[i] == "--seconds" && i + 1 < args.size()) seconds = std::stod(args[++i]);
    else if (args[i] == "--context" && i + 1 < args.size()) {
      std::string m = args[++i];
      if (m == "per-thread") mode = Mode::per_thread;
      else if (m == "per-op") mode = Mode::per_op;
      else if (m == "per-op-global") mode = Mode::per_op_global;
      else die("--context per-thread|per-op|per-op-global");
    } else positional.push_back(args[i]);
  }
  if (positional.size() != 2 || threads < 1)
    die("usage: gpgme_threads_bench GNUPGHOME MESSAGE.eml [--threads N] [--seconds S] [--context per-thread|per-op|per-op-global]");
  const std::string home = positional[0];
  std::ifstream f(positional[1], std::ios::binary);
  if (!f) die("cannot read " + positional[1]);
  std::ostringstream s;
  s << f.rdbuf();
  const std::string ciphertext = armored_ciphertext(s.str());

  gpgme_check_version(nullptr);  // before any thread: initialises GPGME
  gpgme_set_locale(nullptr, LC_CTYPE, "C");
  check_gpg(gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP), "gpg engine");
  if (mode == Mode::per_op_global)
    check_gpg(gpgme_set_engine_info(GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str()), "gpgme_set_engine_info");
  const std::string ctx_home = mode == Mode::per_op_global ? std::string() : home;

  std::atomic<int> warm{0};
  std::atomic<bool> go{false}, stop{false};
  std::vector<long> ops(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      Ctx ctx = make_context(ctx_home);
      decrypt_verify(ctx.get(), ciphertext);  // warm-up: gpg-agent, key cache
      ++warm;
      while (!go) std::this_thread::yield();
      long n = 0;
      while (!stop) {
        if (mode != Mode::per_thread) {
          Ctx fresh = make_context(ctx_home);
          decrypt_verify(fresh.get(), ciphertext);
        } else {
          decrypt_verify(ctx.get(), ciphertext);
        }
        ++n;
      }
      ops[t] = n;
    });
  while (warm < threads) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto t0 = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();  // each finishes the operation it is in
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  long total = 0;
  for (long n : ops) total += n;
  const char* mode_name = mode == Mode::per_thread ? "per-thread" : mode == Mode::per_op ? "per-op" : "per-op-global";
  std::printf("threads=%d context=%s ops=%ld seconds=%.2f msgs_per_s=%.1f ms_per_op_per_thread=%.2f\n", threads,
              mode_name, total, wall, total / wall, wall * 1000.0 * threads / total);
  return 0;
}
