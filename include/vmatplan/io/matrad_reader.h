#pragma once
// matRad .mat patients (the public CORT cases: PROSTATE.mat, TG119.mat, ...), read with
// libmatio: ct.cube / ct.cubeHU, ct.resolution, optional ct.x/y/z, and cst (names,
// types, 1-based column-major voxel index lists in matRad's y-x-z cube order).
#include <string>

#include "vmatplan/patient/patient.h"

namespace vmatplan {

Patient read_matrad_patient(const std::string& mat_path);

}  // namespace vmatplan
