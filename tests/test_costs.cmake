# Included by ctest after the discovered Catch2 tests (TEST_INCLUDE_FILES): the longest
# tests get a COST so that `ctest -j` starts them first. A clean clone has no timing
# history (Testing/Temporary/CTestCostData.txt), and without it ctest runs in test order,
# which left the longest tests for the end of CI's run. Seconds, roughly, at 1 thread.
foreach(entry
    "sequence, check and export chain through files|35"
    "batch killed half-way and resumed ends as an uninterrupted run|22"
    "hostile: export and evaluate|22"
    "hostile: check and plan readers|21"
    "hostile: inspect and patient loading|19"
    "hostile: dose, optimize and sequence|18"
    "hostile: generate, batch, phantom and water|16"
    "batch records a broken patient, resumes and shards|12"
    "usage errors exit with 2, help and version with 0|10"
    "project rasterization agrees with plastimatch convert|10"
    "inspect exit codes|7"
    "batch --training-set writes examples and a manifest|7")
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 name)
  list(GET entry 1 cost)
  set_tests_properties("${name}" PROPERTIES COST ${cost})
endforeach()
