# Finds llmbench's dependencies; shared by the build tree and the installed package.
#
# cpp-httplib: vcpkg, Conan and newer distributions ship a CMake config (httplib::httplib).
# Debian 12 ships only cpp-httplib.pc plus a compiled split build whose -D flags
# (CPPHTTPLIB_OPENSSL_SUPPORT, ...) change class layouts, so they must reach every
# consumer: the pkg-config imported target carries them as compile options.
include(CMakeFindDependencyMacro)

# Inside find_package(llmbench) a missing dependency must mark llmbench not found;
# in llmbench's own build it is a hard error.
macro(_llmbench_find_required name)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "llmbench")
    find_dependency(${name})
  else()
    find_package(${name} REQUIRED)
  endif()
endmacro()

_llmbench_find_required(Threads)
_llmbench_find_required(simdjson)

if(NOT TARGET llmbench_httplib)
  find_package(httplib CONFIG QUIET)
  if(TARGET httplib::httplib)
    add_library(llmbench_httplib INTERFACE IMPORTED)
    set_target_properties(llmbench_httplib PROPERTIES INTERFACE_LINK_LIBRARIES httplib::httplib)
  else()
    find_package(PkgConfig QUIET)
    if(PkgConfig_FOUND)
      pkg_check_modules(LLMBENCH_CPP_HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
    endif()
    if(TARGET PkgConfig::LLMBENCH_CPP_HTTPLIB)
      add_library(llmbench_httplib INTERFACE IMPORTED)
      set_target_properties(llmbench_httplib PROPERTIES
        INTERFACE_LINK_LIBRARIES "PkgConfig::LLMBENCH_CPP_HTTPLIB;Threads::Threads")
    else()
      set(_llmbench_msg "llmbench: cpp-httplib not found (no httplib CMake config, no cpp-httplib.pc). Install libcpp-httplib-dev (Debian/Ubuntu), or use vcpkg/Conan.")
      if(CMAKE_FIND_PACKAGE_NAME STREQUAL "llmbench")
        set(llmbench_FOUND FALSE)
        set(llmbench_NOT_FOUND_MESSAGE "${_llmbench_msg}")
        return()
      endif()
      message(FATAL_ERROR "${_llmbench_msg}")
    endif()
  endif()
endif()

# The quality evals (llmbench::eval) read .gz and .bz2 datasets: zlib and bzip2, optional.
find_package(ZLIB QUIET)
find_package(BZip2 QUIET)
