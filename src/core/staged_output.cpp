#include "vmatplan/core/staged_output.h"

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
}  // namespace

StagedOutput::StagedOutput(std::string final_path, Kind kind, bool overwrite)
    : final_path_(std::move(final_path)), kind_(kind) {
  fs::path fin = fs::absolute(final_path_);
  while (!fin.empty() && fin.filename().empty()) fin = fin.parent_path();  // trailing '/'
  final_path_ = fin.string();
  if (!overwrite && fs::exists(fin)) throw InputError(final_path_, "already exists");
  fs::path parent = fin.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw InputError(parent.string(), "cannot create folder: " + ec.message());
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path stage = parent / (stage_prefix(fin) + std::to_string(rd() % 1000000));
    if (fs::exists(stage)) continue;
    stage_path_ = stage.string();
    if (kind_ == Kind::kDirectory) {
      fs::create_directory(stage, ec);
      if (ec) throw InputError(stage_path_, "cannot create folder: " + ec.message());
    }
    return;
  }
  throw InputError(final_path_, "cannot find a free temporary name beside it");
}

StagedOutput::~StagedOutput() {
  if (committed_ || stage_path_.empty()) return;
  std::error_code ec;
  fs::remove_all(stage_path_, ec);
}

void StagedOutput::commit() {
  std::error_code ec;
  if (fs::exists(final_path_)) fs::remove_all(final_path_, ec);
  fs::rename(stage_path_, final_path_, ec);
  if (ec) throw InputError(final_path_, "cannot move finished output into place: " + ec.message());
  committed_ = true;
}

void remove_stale_stages(const std::string& final_path) {
  fs::path fin = fs::absolute(final_path);
  while (!fin.empty() && fin.filename().empty()) fin = fin.parent_path();
  const std::string prefix = stage_prefix(fin);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fin.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) fs::remove_all(e.path(), ec);
  }
}

}  // namespace vmatplan
