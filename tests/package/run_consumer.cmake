# Installs llmbench into a temporary prefix, then configures, builds and runs a consumer
# that finds it with find_package(llmbench); then the other ways in: pkg-config,
# add_subdirectory, FetchContent, and a version request the package must refuse.
# Arguments: BUILD_DIR, WORK_DIR, CONSUMER_DIR, LIGHT_DIR, SOURCE_DIR, CXX.

# Runs a command; stops the test, naming `what`, when it fails.
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "${what} failed: ${rc}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
run_step("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" --component library)
if(NOT EXISTS "${prefix}/include/llmbench/llmbench.hpp")
  message(FATAL_ERROR "install did not place the headers")
endif()
file(READ "${prefix}/share/doc/llmbench/LICENSE" license)
string(FIND "${license}" "MIT License" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "install did not place the MIT LICENSE in share/doc/llmbench")
endif()
run_step("configuring the consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" -G Ninja "-DCMAKE_PREFIX_PATH=${prefix}")
run_step("building the consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run_step("the consumer" "${WORK_DIR}/build/consumer")
message(STATUS "consumer built against the installed package and ran")

# Nothing in the package may depend on the architecture: headers, CMake files and the .pc
# file, all under include/ and share/.
file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
foreach(f IN LISTS installed)
  if(NOT f MATCHES "^(include/llmbench/|share/llmbench/cmake/|share/pkgconfig/llmbench.pc$|share/doc/llmbench/LICENSE$)")
    message(FATAL_ERROR "the package holds ${f}, outside include/ and share/")
  endif()
endforeach()

# pkg-config, with the prefix found from the .pc file's own place.
set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
execute_process(COMMAND pkg-config --cflags --libs llmbench OUTPUT_VARIABLE flags RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config does not find llmbench.pc: ${rc}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run_step("building with pkg-config's flags" "${CXX}" -std=c++17 "${LIGHT_DIR}/main.cpp" ${flags} -o "${WORK_DIR}/light-pkgconfig")
run_step("the pkg-config consumer" "${WORK_DIR}/light-pkgconfig")

foreach(how subdirectory fetchcontent)
  run_step("configuring with ${how}" "${CMAKE_COMMAND}" -S "${LIGHT_DIR}" -B "${WORK_DIR}/${how}" -G Ninja -DLLMBENCH_HOW=${how}
           "-DLLMBENCH_SOURCE_DIR=${SOURCE_DIR}")
  run_step("building with ${how}" "${CMAKE_COMMAND}" --build "${WORK_DIR}/${how}")
  run_step("the ${how} consumer" "${WORK_DIR}/${how}/light")
endforeach()

execute_process(COMMAND "${CMAKE_COMMAND}" -S "${LIGHT_DIR}" -B "${WORK_DIR}/version" -G Ninja -DLLMBENCH_HOW=version
                        "-DLLMBENCH_PREFIX=${prefix}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc OR NOT "${out}${err}" MATCHES "version: [0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "find_package(llmbench 99.0) was not refused with the installed version named:\n${out}${err}")
endif()
message(STATUS "pkg-config, add_subdirectory and FetchContent consumers ran; version 99.0 was refused")
