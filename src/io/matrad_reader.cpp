// matRad .mat patients through libmatio.
//
// matRad's ct.cube{1} is indexed cube(row, column, slice) = cube(y, x, z), stored
// column-major; cst{s,4}{1} lists 1-based linear indices into that cube. vmatplan's grid is
// (i, j, k) = (x, y, z), x fastest, so matRad voxel (row r, column c, slice s) is voxel
// (i, j, k) = (c, r, s). matRad works in LPS (matRad docs, "The matRad Coordinate
// System"), so the direction is identity.
//
// World coordinates follow matRad_getWorldAxes.m (e0404/matRad, matRad/geometry, commit
// 18c13bb): ct.x/y/z when present; else x(1) = ct.dicomInfo.ImagePositionPatient when
// present; else the first voxel centre is at -(cubeDim([2 1 3]) / 2) .* resolution, i.e.
// x = -nx/2*dx + dx*(0:nx-1). (Older matRad used "cube coordinates", voxel (1,1,1) at
// (dx, dy, dz); matRad_cubeCoords2worldCoords.m maps those to world by a translation.)
#include "vmatplan/io/matrad_reader.h"

#include <matio.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "vmatplan/core/error.h"
#include "vmatplan/core/uid.h"
#include "vmatplan/patient/structure_roles.h"

namespace vmatplan {
namespace {

namespace fs = std::filesystem;

// matio reports problems through a log callback (to stderr by default); keep the last
// message for our one-line error instead.
std::string g_matio_message;
void matio_log(int /*level*/, char* message) {
  g_matio_message = message ? message : "";
  for (auto& c : g_matio_message)
    if (c == '\n' || c == '\r') c = ' ';
}

struct MatCloser {
  void operator()(mat_t* m) const { Mat_Close(m); }
};
struct VarFreer {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using MatFile = std::unique_ptr<mat_t, MatCloser>;
using MatVar = std::unique_ptr<matvar_t, VarFreer>;

size_t element_count(const matvar_t* v) {
  size_t n = 1;
  for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
  return n;
}

bool is_numeric(const matvar_t* v) {
  switch (v->class_type) {
    case MAT_C_DOUBLE: case MAT_C_SINGLE: case MAT_C_INT8: case MAT_C_UINT8:
    case MAT_C_INT16: case MAT_C_UINT16: case MAT_C_INT32: case MAT_C_UINT32:
    case MAT_C_INT64: case MAT_C_UINT64:
      return v->data != nullptr && !v->isComplex;
    default:
      return false;
  }
}

// Any real numeric array as doubles (column-major, as stored). Empty when not numeric.
std::vector<double> numbers(const matvar_t* v) {
  std::vector<double> out;
  if (!v || !is_numeric(v)) return out;
  const size_t n = element_count(v);
  out.resize(n);
  auto copy = [&](auto* p) { std::copy(p, p + n, out.begin()); };
  switch (v->class_type) {
    case MAT_C_DOUBLE: copy(static_cast<const double*>(v->data)); break;
    case MAT_C_SINGLE: copy(static_cast<const float*>(v->data)); break;
    case MAT_C_INT8: copy(static_cast<const int8_t*>(v->data)); break;
    case MAT_C_UINT8: copy(static_cast<const uint8_t*>(v->data)); break;
    case MAT_C_INT16: copy(static_cast<const int16_t*>(v->data)); break;
    case MAT_C_UINT16: copy(static_cast<const uint16_t*>(v->data)); break;
    case MAT_C_INT32: copy(static_cast<const int32_t*>(v->data)); break;
    case MAT_C_UINT32: copy(static_cast<const uint32_t*>(v->data)); break;
    case MAT_C_INT64: copy(static_cast<const int64_t*>(v->data)); break;
    case MAT_C_UINT64: copy(static_cast<const uint64_t*>(v->data)); break;
    default: out.clear();
  }
  // matio stores the data in the class type; a size mismatch means a damaged variable.
  if (v->nbytes < n * Mat_SizeOfClass(v->class_type)) out.clear();
  return out;
}

std::string text(const matvar_t* v) {
  if (!v || v->class_type != MAT_C_CHAR || !v->data) return "";
  std::string s;
  if (v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16) {
    const auto* p = static_cast<const uint16_t*>(v->data);
    for (size_t n = 0; n < v->nbytes / 2; ++n) s += p[n] < 128 ? char(p[n]) : '?';
  } else {
    s.assign(static_cast<const char*>(v->data), v->nbytes);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

matvar_t* field(matvar_t* s, const char* name) {
  if (!s || s->class_type != MAT_C_STRUCT) return nullptr;
  return Mat_VarGetStructFieldByName(s, name, 0);
}

// The first element of a cell array (matRad keeps one cube per CT scenario), or v itself
// when it is not a cell.
matvar_t* first_of(matvar_t* v) {
  if (v && v->class_type == MAT_C_CELL) return element_count(v) ? Mat_VarGetCell(v, 0) : nullptr;
  return v;
}

double scalar(matvar_t* v, double fallback) {
  auto n = numbers(v);
  return n.empty() ? fallback : n[0];
}

// Relative electron density -> HU, by inverting a HU -> RED table piecewise-linearly
// (clamped at both ends). Default: matRad's own photon table, dicom/hlutLibrary/
// matRad_default.hlut (e0404/matRad commit 1a382bb), also the table matRad used to make
// ct.cube from HU. A usable ct.hlut in the file (N x 2, HU and RED increasing) wins.
struct Hlut {
  std::vector<double> hu, red;
};

Hlut default_hlut() {
  return {{-1024.0, 200.0, 449.0, 2000.0, 2048.0, 3071.0},
          {0.00324, 1.2, 1.20001, 2.49066, 2.53060, 2.53061}};
}

Hlut hlut_from(matvar_t* v) {
  auto n = numbers(v);
  if (!v || v->rank != 2 || v->dims[1] != 2 || v->dims[0] < 2 || n.empty()) return {};
  Hlut t;
  const size_t rows = v->dims[0];
  for (size_t r = 0; r < rows; ++r) {
    const double hu = n[r], red = n[rows + r];
    // Keep strictly increasing points only, so the table can be inverted.
    if (!t.hu.empty() && (hu <= t.hu.back() || red <= t.red.back())) continue;
    t.hu.push_back(hu);
    t.red.push_back(red);
  }
  // A sane photon table spans air to at least water.
  if (t.hu.size() < 2 || t.red.front() > 0.5 || t.red.back() < 1.0) return {};
  return t;
}

float red_to_hu(double red, const Hlut& t) {
  if (red <= t.red.front()) return float(t.hu.front());
  if (red >= t.red.back()) return float(t.hu.back());
  size_t k = std::upper_bound(t.red.begin(), t.red.end(), red) - t.red.begin();
  const double f = (red - t.red[k - 1]) / (t.red[k] - t.red[k - 1]);
  return float(t.hu[k - 1] + f * (t.hu[k] - t.hu[k - 1]));
}

std::string interpreted_type(const std::string& name, const std::string& matrad_type,
                             const StructureRoles* roles) {
  const std::string key = StructureRoles::normalize(name);
  if (roles && roles->role_of(name) == "body") return "EXTERNAL";
  std::string t = matrad_type;
  for (auto& c : t) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (t == "TARGET") {
    if (key.rfind("ctv", 0) == 0) return "CTV";
    if (key.rfind("gtv", 0) == 0) return "GTV";
    return "PTV";
  }
  return "ORGAN";
}

// Voxel centre positions along one axis, in world mm (matRad_getWorldAxes, see top).
void set_axis(ImageGrid& g, int axis, matvar_t* world_axis, double first_voxel_mm) {
  auto w = numbers(world_axis);
  if (static_cast<int64_t>(w.size()) == g.size[axis] && !w.empty()) {
    g.origin_mm[axis] = w[0];
    if (w.size() > 1 && w[1] < w[0]) g.direction[axis * 3 + axis] = -1.0;
    return;
  }
  g.origin_mm[axis] = first_voxel_mm;
}

}  // namespace

Patient read_matrad_patient(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path, "does not exist");
  g_matio_message.clear();
  Mat_LogInitFunc("vmatplan", matio_log);
  auto fail = [&](const std::string& problem) {
    std::string m = problem;
    if (!g_matio_message.empty()) m += " (matio: " + g_matio_message + ")";
    return InputError(path, m);
  };

  MatFile mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  if (!mat) throw fail("not a readable MATLAB .mat file (v5/v7/v7.3)");
  MatVar ct(Mat_VarRead(mat.get(), "ct"));
  if (!ct) throw fail("no readable 'ct' variable: not a matRad patient, or the file is damaged");
  if (ct->class_type != MAT_C_STRUCT) throw fail("'ct' is not a struct: not a matRad patient");

  Patient p;
  p.source = path;
  matvar_t* cube = first_of(field(ct.get(), "cubeHU"));
  const bool have_hu = cube != nullptr && is_numeric(cube);
  if (!have_hu) cube = first_of(field(ct.get(), "cube"));
  if (!cube || !is_numeric(cube) || cube->rank < 2 || cube->rank > 3)
    throw fail("ct has no usable cube or cubeHU (a 3-D numeric array in a cell)");
  const int64_t ny = int64_t(cube->dims[0]), nx = int64_t(cube->dims[1]);
  const int64_t nz = cube->rank == 3 ? int64_t(cube->dims[2]) : 1;
  auto dim = numbers(field(ct.get(), "cubeDim"));
  if (dim.size() >= 2 && (int64_t(dim[0]) != ny || int64_t(dim[1]) != nx ||
                          (dim.size() > 2 ? int64_t(dim[2]) : 1) != nz))
    throw fail("ct.cubeDim does not match the size of the CT cube");

  matvar_t* res = field(ct.get(), "resolution");
  const double dx = scalar(field(res, "x"), 0), dy = scalar(field(res, "y"), 0),
               dz = scalar(field(res, "z"), 0);
  if (!(dx > 0 && dy > 0 && dz > 0)) throw fail("ct.resolution.x/y/z missing or not positive");

  ImageGrid g;
  g.size = {nx, ny, nz};
  g.spacing_mm = {dx, dy, dz};
  Vec3 first{-0.5 * nx * dx, -0.5 * ny * dy, -0.5 * nz * dz};
  matvar_t* dicom = field(ct.get(), "dicomInfo");
  auto ipp = numbers(field(dicom, "ImagePositionPatient"));
  if (ipp.size() == 3) first = {ipp[0], ipp[1], ipp[2]};
  set_axis(g, 0, field(ct.get(), "x"), first[0]);
  set_axis(g, 1, field(ct.get(), "y"), first[1]);
  set_axis(g, 2, field(ct.get(), "z"), first[2]);
  const std::string position = text(field(dicom, "PatientPosition"));
  if (!position.empty()) p.identity.patient_position = position;

  // cube(r, c, s) column-major -> vmatplan (i, j, k) = (c, r, s).
  auto values = numbers(cube);
  if (values.size() != size_t(g.voxel_count())) throw fail("CT cube data is incomplete");
  Hlut table;
  if (!have_hu) {
    table = hlut_from(field(ct.get(), "hlut"));
    if (table.hu.empty()) table = default_hlut();
    p.warnings.push_back("CT given as relative electron density, converted to HU");
  }
  p.ct_hu = CtImage(g, 0.0f);
  for (int64_t s = 0; s < nz; ++s)
    for (int64_t c = 0; c < nx; ++c)
      for (int64_t r = 0; r < ny; ++r) {
        const double v = values[size_t(r + ny * (c + nx * s))];
        p.ct_hu.at(c, r, s) = have_hu ? float(v) : red_to_hu(v, table);
      }

  const std::string stem = fs::path(path).stem().string();
  p.identity.patient_id = stem;
  p.identity.patient_name = stem;

  g_matio_message.clear();
  MatVar cst(Mat_VarRead(mat.get(), "cst"));
  if (!cst && !g_matio_message.empty()) throw fail("'cst' cannot be read: the file is damaged");
  if (!cst) {
    p.warnings.push_back("no 'cst' variable: the patient has no structures");
    p.format = "matrad";
    assign_content_uids(p);
    return p;
  }
  if (cst->class_type != MAT_C_CELL || cst->rank != 2 || cst->dims[1] < 4)
    throw fail("'cst' is not a matRad structure cell array (N x 6)");
  std::unique_ptr<StructureRoles> roles;
  try {
    roles = std::make_unique<StructureRoles>(StructureRoles::load_default());
  } catch (const Error&) {
    p.warnings.push_back("structure_roles.json not found: body structures not recognised");
  }
  const size_t n = cst->dims[0];
  auto cell = [&](size_t row, size_t col) { return Mat_VarGetCell(cst.get(), int(row + n * col)); };
  for (size_t row = 0; row < n; ++row) {
    Structure st;
    st.name = text(cell(row, 1));
    if (st.name.empty()) throw fail("cst row " + std::to_string(row + 1) + " has no name");
    st.number = int(scalar(cell(row, 0), double(row))) + 1;  // cst{:,1} is 0-based
    st.type = interpreted_type(st.name, text(cell(row, 2)), roles.get());
    if (cst->dims[1] > 4) {
      auto rgb = numbers(field(cell(row, 4), "visibleColor"));
      if (rgb.size() == 3)
        for (int a = 0; a < 3; ++a)
          st.color_rgb[a] = uint8_t(std::lround(std::clamp(rgb[a], 0.0, 1.0) * 255.0));
    }
    matvar_t* list = first_of(cell(row, 3));
    auto idx = numbers(list);
    if (list && !is_numeric(list) && element_count(list) > 0)
      throw fail("cst voxel list of '" + st.name + "' is not numeric");
    st.mask = Mask(g, 0);
    for (double L : idx) {
      const int64_t lin = int64_t(std::llround(L)) - 1;
      if (lin < 0 || lin >= g.voxel_count())
        throw fail("cst voxel index of '" + st.name + "' outside the CT cube");
      const int64_t r = lin % ny, c = (lin / ny) % nx, s = lin / (ny * nx);
      st.mask.at(c, r, s) = 1;
    }
    if (idx.empty()) p.warnings.push_back("structure '" + st.name + "' has no voxels");
    p.structures.push_back(std::move(st));
  }
  p.format = "matrad";
  assign_content_uids(p);  // the same file gives the same UIDs, load after load
  return p;
}

}  // namespace vmatplan
