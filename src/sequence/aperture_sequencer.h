#pragma once
// One aperture per control point (arc_sequencer.h, SequencerMethod::kApertures). Private to
// the sequence layer.
#include <vector>

#include "sequencer_parts.h"

namespace vmatplan::sequencer_parts {

// The delivery beam of arc `beam_index` (input control points first_cp ...); `edges_out`
// gets its sectors' delivery control-point edges.
DeliveryBeam sequence_beam_apertures(const PlanFile& plan, int beam_index, int first_cp,
                                     const Machine& m, const SequencerOptions& o,
                                     const Limits& lim, int subdivision, std::vector<int>& edges_out);

}  // namespace vmatplan::sequencer_parts
