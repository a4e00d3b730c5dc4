# libFuzzer targets, each run for LLMBENCH_FUZZ_SECONDS as a test (label "fuzz"); needs clang.
# The sanitizers come from the build's own flags (the asan preset: ASan + UBSan). Included by
# tests/CMakeLists.txt (not a subdirectory, whose targets Ninja would start after all of tests/:
# these long compiles come before the many short ones, so none is left running alone at the end).
set(_fuzz_source "${CMAKE_CURRENT_LIST_DIR}")
set(_fuzz_binary "${CMAKE_CURRENT_BINARY_DIR}/fuzz")
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "LLMBENCH_FUZZ needs clang (libFuzzer); this build uses ${CMAKE_CXX_COMPILER_ID}")
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(LLMBENCH_FUZZ_SECONDS 30 CACHE STRING "How long each fuzz test runs")

set(_seeds "${_fuzz_binary}/seeds")
add_test(NAME fuzz_seeds
  COMMAND Python3::Interpreter "${_fuzz_source}/make_seeds.py" "${LLMBENCH_SHARED_DIR}" "${PROJECT_SOURCE_DIR}" "${_seeds}")
set_tests_properties(fuzz_seeds PROPERTIES FIXTURES_SETUP fuzz_seeds LABELS fuzz)

# One binary for every target, compiled as one unit (a unity build): the library's inline code
# is emitted once instead of six times. LLMBENCH_FUZZ_TARGET picks a run's target
# (fuzz_main.cpp), so each is still fuzzed on its own, with its own seeds, corpus and findings.
set(_fuzz_targets parsers streams inputs datasets framing sse)
set(_fuzz_sources "${_fuzz_source}/fuzz_main.cpp")
foreach(target ${_fuzz_targets})
  list(APPEND _fuzz_sources "${_fuzz_source}/fuzz_${target}.cpp")
endforeach()
add_executable(llmbench_fuzz ${_fuzz_sources})
set_target_properties(llmbench_fuzz PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${_fuzz_binary}" UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
target_link_libraries(llmbench_fuzz PRIVATE llmbench::llmbench llmbench::eval llmbench_project_options)
target_compile_options(llmbench_fuzz PRIVATE -fsanitize=fuzzer -O1)  # -O1: more executions per second
target_link_options(llmbench_fuzz PRIVATE -fsanitize=fuzzer)

foreach(target ${_fuzz_targets})
  set(_seed_dir "${_seeds}/common")
  if(target STREQUAL "datasets" OR target STREQUAL "parsers")
    set(_seed_dir "${_seeds}/${target}")
  endif()
  # The corpus grows across local runs; a finding is written beside it and fails the test.
  set(_corpus "${_fuzz_binary}/corpus_${target}")
  file(MAKE_DIRECTORY "${_corpus}")
  add_test(NAME fuzz_${target}
    COMMAND llmbench_fuzz -max_total_time=${LLMBENCH_FUZZ_SECONDS} -rss_limit_mb=2048 -timeout=10
            -print_final_stats=1 -artifact_prefix=${_fuzz_binary}/finding_${target}_
            "${_corpus}" "${_seed_dir}")
  # COST: started first, so the other tests fill the time beside them.
  set_tests_properties(fuzz_${target} PROPERTIES FIXTURES_REQUIRED fuzz_seeds LABELS fuzz COST 1000
                       TIMEOUT 600 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;LLMBENCH_FUZZ_TARGET=${target}")
endforeach()
