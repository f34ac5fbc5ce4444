#pragma once
// report.html: one self-contained page with the DVH plot (inline SVG), the clinical goals
// (coloured by verdict), target indices, structure metrics and gamma when computed.
//
//   write_plan_report(out_dir, evaluation, inputs, gamma_or_null);
//   // -> out_dir/summary.json, out_dir/dvh.svg, out_dir/report.html
//   write_plan_report(out_dir, evaluation, inputs, gamma_or_null, {&patient, &dose});
//   // + the dose pictures: out_dir/dose_{axial,sagittal,coronal}_{target,max}.svg, also inline
#include <string>
#include <vector>

#include "vmatplan/report/dose_slices.h"
#include "vmatplan/report/summary_json.h"

namespace vmatplan {

// The patient and dose the pictures are drawn from (both or neither).
struct DoseView {
  const Patient* patient = nullptr;
  const DoseImage* dose = nullptr;
};

std::string render_html_report(const PlanEvaluation& evaluation, const ReportInputs& inputs,
                               const std::string& dvh_svg, const GammaSummary* gamma = nullptr,
                               const std::vector<DoseSlice>* slices = nullptr);

// The "Dose distribution" section: the slices inline, three per row, with a legend.
std::string dose_slices_html(const std::vector<DoseSlice>& slices, const std::string& heading);

// Writes each slice as dir/<slice.file_name>; InputError when one cannot be written.
void write_dose_slices(const std::string& dir, const std::vector<DoseSlice>& slices);

// Writes the three files into an existing folder (the caller stages it); InputError naming
// the file when one cannot be written.
void write_plan_report(const std::string& dir, const PlanEvaluation& evaluation,
                       const ReportInputs& inputs, const GammaSummary* gamma = nullptr,
                       const DoseView& view = {});

}  // namespace vmatplan
