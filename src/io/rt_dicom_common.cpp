#include "rt_dicom_common.h"

#include <dcmtk/oflog/oflog.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

#include "vmatplan/core/decimal_string.h"
#include "vmatplan/core/error.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/core/version.h"

namespace vmatplan::rt {

void quiet_dcmtk_log() {
  static std::once_flag once;
  std::call_once(once, [] { OFLog::getLogger("dcmtk").setLogLevel(OFLogger::OFF_LOG_LEVEL); });
}

std::string ds(double v) { return decimal_string(v); }

std::string ds_list(const std::vector<double>& values) {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i) s += (i ? "\\" : "") + ds(values[i]);
  return s;
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value, const std::string& file) {
  OFCondition c = item.putAndInsertString(tag, value.c_str());
  if (c.bad())
    throw ProcessingError(file + ": cannot set " + DcmTag(tag).getTagName() + ": " + c.text());
}

DcmItem& new_item(DcmItem& parent, const DcmTagKey& seq, const std::string& file) {
  DcmItem* item = nullptr;
  OFCondition c = parent.findOrCreateSequenceItem(seq, item, -2);  // -2: append
  if (c.bad() || !item)
    throw ProcessingError(file + ": cannot add an item to " + DcmTag(seq).getTagName());
  return *item;
}

std::string get_string(DcmItem& item, const DcmTagKey& tag) {
  OFString s;
  if (item.findAndGetOFStringArray(tag, s, false).bad()) return "";
  std::string r = s.c_str();
  while (!r.empty() && (r.back() == ' ' || r.back() == '\0')) r.pop_back();
  while (!r.empty() && r.front() == ' ') r.erase(r.begin());
  return r;
}

bool has(DcmItem& item, const DcmTagKey& tag) { return item.tagExistsWithValue(tag, false); }

bool get_number(DcmItem& item, const DcmTagKey& tag, double& out) {
  const std::string s = get_string(item, tag);
  if (s.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

// The raw value, parsed in place: a plan's leaf positions (120 values per control point)
// are read without DCMTK's per-value normalising copy. strtod skips the spaces that the
// normalisation would remove and stops at each backslash, so the numbers are the same.
std::vector<double> get_numbers(DcmItem& item, const DcmTagKey& tag) {
  std::vector<double> out;
  const char* raw = nullptr;
  if (item.findAndGetString(tag, raw, false).bad() || raw == nullptr) return out;
  const char* begin = raw;
  const char* end = raw + std::strlen(raw);
  while (begin != end && *begin == ' ') ++begin;
  while (end != begin && end[-1] == ' ') --end;
  if (begin == end) return out;
  const std::string s(begin, end);
  for (const char* p = s.c_str();; ++p) {
    out.push_back(std::strtod(p, nullptr));
    p = std::strchr(p, '\\');
    if (p == nullptr) break;
  }
  return out;
}

std::vector<DcmItem*> items(DcmItem& item, const DcmTagKey& seq) {
  std::vector<DcmItem*> out;
  DcmSequenceOfItems* sq = nullptr;
  if (item.findAndGetSequence(seq, sq, false).bad() || !sq) return out;
  for (unsigned long i = 0; i < sq->card(); ++i) out.push_back(sq->getItem(i));
  return out;
}

void put_patient_study_series(DcmItem& d, const DicomIdentity& id, const std::string& modality,
                              const std::string& series_description, const std::string& f) {
  auto or_uid = [](const std::string& s) { return s.empty() ? make_uid() : s; };
  put(d, DCM_PatientName, id.patient_name, f);
  put(d, DCM_PatientID, id.patient_id, f);
  put(d, DCM_PatientBirthDate, "", f);
  put(d, DCM_PatientSex, "", f);
  put(d, DCM_StudyInstanceUID, or_uid(id.study_instance_uid), f);
  put(d, DCM_StudyDate, "", f);
  put(d, DCM_StudyTime, "", f);
  put(d, DCM_ReferringPhysicianName, "", f);
  put(d, DCM_StudyID, "", f);
  put(d, DCM_AccessionNumber, "", f);
  put(d, DCM_Modality, modality, f);
  put(d, DCM_SeriesInstanceUID, make_uid(), f);
  put(d, DCM_SeriesNumber, "1", f);
  put(d, DCM_SeriesDescription, series_description, f);
  put(d, DCM_OperatorsName, "", f);
  put(d, DCM_FrameOfReferenceUID, or_uid(id.frame_of_reference_uid), f);
  put(d, DCM_PositionReferenceIndicator, "", f);
  put(d, DCM_Manufacturer, "vmatplan", f);
  put(d, DCM_SoftwareVersions, kVersion, f);
}

std::string today_da() {
  std::time_t t = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", std::localtime(&t));
  return buf;
}

std::string now_tm() {
  std::time_t t = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H%M%S", std::localtime(&t));
  return buf;
}

}  // namespace vmatplan::rt
