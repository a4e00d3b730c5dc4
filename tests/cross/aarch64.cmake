# The event loop's tests built for 64-bit ARM and run under qemu-user: the aarch64 fiber switch
# (fiber_loop.hpp) on a machine that is not one. Run by CTest as
#   cmake -D CLANGXX=... -D QEMU=... -D SOURCE_DIR=... -D DOCTEST_INCLUDE=... -D WORK=... -P aarch64.cmake
# clang targets aarch64 with the libraries of Debian's g++-aarch64-linux-gnu
# (scripts/install-deps.sh --with-cross); without them the test says so and is skipped.
set(sysroot /usr/aarch64-linux-gnu)
foreach(need CLANGXX QEMU)
  if(NOT ${need} OR NOT EXISTS "${${need}}")
    message("skipped: no ${need} (scripts/install-deps.sh --with-cross installs clang, qemu-user and g++-aarch64-linux-gnu)")
    return()
  endif()
endforeach()
if(NOT EXISTS "${sysroot}/lib/ld-linux-aarch64.so.1")
  message("skipped: no aarch64 libraries in ${sysroot} (Debian's g++-aarch64-linux-gnu; scripts/install-deps.sh --with-cross)")
  return()
endif()

# doctest alone on the include path: the host's /usr/include would shadow the target's headers.
file(MAKE_DIRECTORY "${WORK}/include")
file(CREATE_LINK "${DOCTEST_INCLUDE}/doctest" "${WORK}/include/doctest" SYMBOLIC)
execute_process(
  COMMAND "${CLANGXX}" --target=aarch64-linux-gnu -std=c++17 -O1 -Wall -Wextra -Wpedantic -Werror -pthread
          -I "${SOURCE_DIR}/include" -isystem "${WORK}/include"
          "${SOURCE_DIR}/tests/main.cpp" "${SOURCE_DIR}/tests/integration/test_fiber_loop.cpp" -o "${WORK}/fiber_loop_aarch64"
  RESULT_VARIABLE built)
if(NOT built EQUAL 0)
  message(FATAL_ERROR "the event loop's tests did not build for aarch64 (${built})")
endif()
# The switch must be the assembly one: glibc's swapcontext would pass these tests too.
file(STRINGS "${WORK}/fiber_loop_aarch64" uses_ucontext REGEX "swapcontext")
if(uses_ucontext)
  message(FATAL_ERROR "the aarch64 build switches fibers with swapcontext, not fiber_switch")
endif()
execute_process(COMMAND "${QEMU}" -L "${sysroot}" "${WORK}/fiber_loop_aarch64" RESULT_VARIABLE ran)
if(NOT ran EQUAL 0)
  message(FATAL_ERROR "the event loop's tests failed on aarch64 (qemu-aarch64: ${ran})")
endif()
