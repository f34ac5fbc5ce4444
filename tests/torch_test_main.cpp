// Test main for executables that link LibTorch; built with CATCH_CONFIG_PREFIX_ALL, so
// tests use CATCH_CHECK / CATCH_REQUIRE and torch's CHECK cannot shadow them.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <torch/torch.h>

int main(int argc, char* argv[]) {
  torch::set_num_threads(1);  // tests and CI run at one LibTorch thread
  return Catch::Session().run(argc, argv);
}
