#pragma once
// Helpers shared by the RT Plan / RT Dose writers, reader and validator (private to io).
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <string>
#include <vector>

#include "vmatplan/patient/patient.h"

namespace vmatplan::rt {

constexpr const char* kRtPlanStorage = "1.2.840.10008.5.1.4.1.1.481.5";
constexpr const char* kRtDoseStorage = "1.2.840.10008.5.1.4.1.1.481.2";
constexpr const char* kRtStructureSetStorage = "1.2.840.10008.5.1.4.1.1.481.3";

// Decimal String (PS3.5 6.2: at most 16 characters): the shortest text that reads back
// as the same double, else the closest 16-character text.
std::string ds(double v);
std::string ds_list(const std::vector<double>& values);

// Once per process: DCMTK logs nothing to the console. The readers report every problem
// themselves as one InputError line; DCMTK's "E: DcmElement: ..." would come first.
void quiet_dcmtk_log();

// putAndInsertString that throws ProcessingError naming `file` and the attribute.
void put(DcmItem& item, const DcmTagKey& tag, const std::string& value, const std::string& file);
// Appends a new item to the sequence `seq` of `parent`.
DcmItem& new_item(DcmItem& parent, const DcmTagKey& seq, const std::string& file);

// Reading: value or "" / nullopt-like defaults.
std::string get_string(DcmItem& item, const DcmTagKey& tag);
bool has(DcmItem& item, const DcmTagKey& tag);
bool get_number(DcmItem& item, const DcmTagKey& tag, double& out);  // false when absent/bad
std::vector<double> get_numbers(DcmItem& item, const DcmTagKey& tag);
std::vector<DcmItem*> items(DcmItem& item, const DcmTagKey& seq);

// Patient, General Study, RT Series, Frame of Reference and General Equipment modules
// (PS3.3 C.7.1.1, C.7.2.1, C.8.8.1, C.7.4.1, C.7.5.1) from the patient's identity; a new
// series UID, and new study / frame-of-reference UIDs where the identity has none.
void put_patient_study_series(DcmItem& d, const DicomIdentity& id, const std::string& modality,
                              const std::string& series_description, const std::string& file);

std::string today_da();  // YYYYMMDD
std::string now_tm();    // HHMMSS

}  // namespace vmatplan::rt
