// libFuzzer target: the delivery-plan JSON reader (PLAN2.json's extra.delivery, the
// vmatplan-delivery format) and its validation, on arbitrary text.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "vmatplan/core/error.h"
#include "vmatplan/geometry/delivery_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    vmatplan::DeliveryPlan p = vmatplan::delivery_plan_from_json(j, "fuzz.json");
    (void)p.total_mu_per_fraction();
    for (const auto& b : p.beams)
      for (size_t i = 0; i < b.control_points.size(); ++i) (void)b.interval_mu(i);
  } catch (const vmatplan::Error&) {
  }
  return 0;
}
