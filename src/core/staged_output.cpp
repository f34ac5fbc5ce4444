#include "vmatplan/core/staged_output.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "vmatplan/core/error.h"

namespace vmatplan {
namespace fs = std::filesystem;

namespace {

std::string stage_prefix(const fs::path& final_path) {
  return "." + final_path.filename().string() + ".partial-";
}

fs::path normalised_absolute(const std::string& p) {
  fs::path fin = fs::absolute(p).lexically_normal();
  while (!fin.empty() && fin.filename().empty() && fin != fin.root_path()) fin = fin.parent_path();
  return fin;
}

// ---- Registry of live stages, read by the signal handler -----------------------------
// Fixed storage: the handler may only touch memory that is never reallocated.
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
std::atomic<int> g_state[kSlots];  // 0 free, 1 being written, 2 ready
char g_paths[kSlots][kPathMax];

int registry_add(const std::string& path) {
  if (path.size() + 1 > kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_state[i].compare_exchange_strong(expected, 1)) {
      std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
      g_state[i].store(2);
      return i;
    }
  }
  return -1;
}

void registry_remove(int slot) {
  if (slot >= 0 && slot < kSlots) g_state[slot].store(0);
}

// Async-signal-safe recursive removal: only openat, getdents64, unlinkat and close.
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

bool is_dot(const char* n) { return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)); }

void remove_tree_at(int dirfd, const char* name, int depth) {
  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return;
  if (depth > 32) return;
  const int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  alignas(8) char buf[2048];
  // Listing again after each pass: removing entries while reading may skip some.
  for (int pass = 0; pass < 1000; ++pass) {
    bool removed_any = false;
    if (lseek(fd, 0, SEEK_SET) < 0) break;
    for (;;) {
      const long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
        off += d->d_reclen;
        if (is_dot(d->d_name)) continue;
        remove_tree_at(fd, d->d_name, depth + 1);
        removed_any = true;
      }
    }
    if (!removed_any) break;
  }
  close(fd);
  unlinkat(dirfd, name, AT_REMOVEDIR);
}

extern "C" void on_termination_signal(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_state[i].load() == 2) remove_tree_at(AT_FDCWD, g_paths[i], 0);
  _exit(128 + sig);
}

}  // namespace

int register_temporary_path(const std::string& path) { return registry_add(path); }
void unregister_temporary_path(int slot) { registry_remove(slot); }

void install_stage_cleanup_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_termination_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGHUP);
  // A signal ignored at start stays ignored (nohup, `cmd &` in a script ignoring SIGINT).
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sig, &sa, nullptr);
  }
}

StagedOutput::StagedOutput(std::string final_path, Kind kind, bool overwrite)
    : final_path_(std::move(final_path)), kind_(kind), overwrite_(overwrite) {
  const std::string given = final_path_;
  const fs::path fin = normalised_absolute(final_path_);
  final_path_ = fin.string();
  std::error_code ec;
  if (!overwrite && fs::exists(fs::symlink_status(fin, ec)))
    throw InputError(given, "already exists (use --overwrite to replace it)");
  if (fs::is_directory(fin, ec) && kind == Kind::kFile)
    throw InputError(given, "is a folder; a file name is expected");
  if (fs::is_regular_file(fin, ec) && kind == Kind::kDirectory)
    throw InputError(given, "is a file; a folder name is expected");
  fs::path parent = fin.parent_path();
  fs::create_directories(parent, ec);
  if (ec) throw InputError(parent.string(), "cannot create folder: " + ec.message());
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path stage = parent / (stage_prefix(fin) + std::to_string(rd() % 1000000));
    if (fs::exists(fs::symlink_status(stage, ec))) continue;
    stage_path_ = stage.string();
    if (kind_ == Kind::kDirectory) {
      if (::mkdir(stage_path_.c_str(), 0777) != 0) {
        if (errno == EEXIST) continue;
        throw InputError(given, std::string("cannot write here: ") + std::strerror(errno));
      }
    } else {
      const int fd = ::open(stage_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0) {
        if (errno == EEXIST) continue;
        throw InputError(given, std::string("cannot write here: ") + std::strerror(errno));
      }
      ::close(fd);
    }
    slot_ = registry_add(stage_path_);
    return;
  }
  throw InputError(given, "cannot find a free temporary name beside it");
}

StagedOutput::~StagedOutput() {
  if (committed_ || stage_path_.empty()) return;
  std::error_code ec;
  fs::remove_all(stage_path_, ec);
  registry_remove(slot_);
}

void StagedOutput::commit() {
  std::error_code ec;
  if (!overwrite_) {
    // Atomic, never replaces: a concurrent run that committed first wins, this one fails.
    if (::renameat2(AT_FDCWD, stage_path_.c_str(), AT_FDCWD, final_path_.c_str(),
                    RENAME_NOREPLACE) != 0) {
      const int err = errno;
      if (err == EEXIST || err == ENOTEMPTY)
        throw InputError(final_path_, "appeared while this run was writing it (another run?); "
                                      "nothing replaced, use --overwrite to replace it");
      if (err != EINVAL && err != ENOSYS)
        throw InputError(final_path_, std::string("cannot move finished output into place: ") +
                                          std::strerror(err));
      // A file system without RENAME_NOREPLACE: check, then rename (not atomic).
      if (fs::exists(fs::symlink_status(final_path_, ec)))
        throw InputError(final_path_, "appeared while this run was writing it; nothing replaced");
      fs::rename(stage_path_, final_path_, ec);
      if (ec) throw InputError(final_path_, "cannot move finished output into place: " + ec.message());
    }
  } else {
    // Replace: move the old output aside first so that a failed rename can restore it.
    fs::path old;
    if (fs::exists(fs::symlink_status(final_path_, ec))) {
      old = fs::path(stage_path_).string() + "-old";
      fs::rename(final_path_, old, ec);
      if (ec) throw InputError(final_path_, "cannot replace it: " + ec.message());
    }
    fs::rename(stage_path_, final_path_, ec);
    if (ec) {
      std::error_code ec2;
      if (!old.empty()) fs::rename(old, final_path_, ec2);
      throw InputError(final_path_, "cannot move finished output into place: " + ec.message());
    }
    if (!old.empty()) fs::remove_all(old, ec);
  }
  committed_ = true;
  registry_remove(slot_);
}

void remove_stale_stages(const std::string& final_path) {
  const fs::path fin = normalised_absolute(final_path);
  const std::string prefix = stage_prefix(fin);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fin.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) fs::remove_all(e.path(), ec);
  }
}

void check_output_writable(const std::string& out, bool overwrite, bool is_file) {
  std::error_code ec;
  const fs::path fin = normalised_absolute(out);
  if (fs::exists(fs::symlink_status(fin, ec))) {
    if (!overwrite) throw InputError(out, "already exists (use --overwrite to replace it)");
    if (is_file && fs::is_directory(fin, ec)) throw InputError(out, "is a folder; a file name is expected");
    if (!is_file && !fs::is_directory(fin, ec)) throw InputError(out, "is a file; a folder name is expected");
  }
  fs::path parent = fin.parent_path();
  while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.root_path())
    parent = parent.parent_path();
  if (!fs::is_directory(parent, ec))
    throw InputError(out, "cannot be written: " + parent.string() + " is not a folder");
  // access() says yes to root everywhere; a probe file (removed at once) tells the truth.
  const std::string probe = (parent / (".vmatplan-probe-" + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST)
    throw InputError(out, "cannot be written: " + parent.string() + ": " + std::strerror(errno));
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
  }
}

void check_output_separate(const std::string& out_flag, const std::string& out,
                           const std::vector<std::pair<std::string, std::string>>& inputs) {
  if (out.empty()) return;
  std::error_code ec;
  const fs::path o = fs::weakly_canonical(normalised_absolute(out), ec);
  auto inside = [](const fs::path& child, const fs::path& parent) {
    auto c = child.begin();
    for (auto p = parent.begin(); p != parent.end(); ++p, ++c)
      if (c == child.end() || *p != *c) return false;
    return true;
  };
  for (const auto& [flag, path] : inputs) {
    if (path.empty() || !fs::exists(path, ec)) continue;
    const fs::path in = fs::weakly_canonical(normalised_absolute(path), ec);
    if (o == in)
      throw UsageError(out_flag + ": " + out + " is the same path as " + flag + " " + path);
    if (inside(in, o))
      throw UsageError(out_flag + ": " + out + " contains " + flag + " " + path +
                       " (writing it would replace the input)");
    if (fs::is_directory(in, ec) && inside(o, in))
      throw UsageError(out_flag + ": " + out + " lies inside " + flag + " folder " + path +
                       " (writing it would change the input)");
  }
}

}  // namespace vmatplan
