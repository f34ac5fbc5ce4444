#pragma once
// The project's own semantic RT Plan checks, for what dciodvfy does not check
// (docs/toolchain-notes.md): NumberOfControlPoints equals the sequence length, control
// point indices run 0..N-1, control point 0 is complete (energy, dose rate, gantry angle and
// rotation direction, collimator and couch angles, isocentre, positions of every beam
// limiting device, weight 0), LeafPositionBoundaries hold pairs + 1 increasing values,
// LeafJawPositions hold 2 x pairs values, cumulative meterset weights never decrease and
// end at FinalCumulativeMetersetWeight, every treatment beam has a BeamMeterset and
// NumberOfBeams matches.
//
//   for (auto& problem : validate_rtplan_file("RP.dcm")) std::cerr << problem << "\n";
#include <string>
#include <vector>

namespace vmatplan {

// One line per problem ("beam 2 cp 0: no GantryAngle"); empty when the plan is sound.
// InputError when the file cannot be read.
std::vector<std::string> validate_rtplan_file(const std::string& path);

}  // namespace vmatplan
