# A header-only port that uses llmbench's own install rules unchanged.
# From a release:   vcpkg install llmbench --overlay-ports=packaging/vcpkg/ports
# From a checkout:  set LLMBENCH_SOURCE_DIR to the tree (no download).
if(DEFINED ENV{LLMBENCH_SOURCE_DIR})
  set(SOURCE_PATH "$ENV{LLMBENCH_SOURCE_DIR}")
else()
  vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO llmbench/llmbench  # placeholder: the public repository, once there is one
    REF "v${VERSION}"
    SHA512 0  # set when the release tag exists
    HEAD_REF main)
endif()

set(VCPKG_BUILD_TYPE release)  # headers only: one configuration is all there is
vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DLLMBENCH_BUILD_TESTS=OFF
    -DLLMBENCH_BUILD_EXAMPLES=OFF
    -DLLMBENCH_BUILD_BENCH=OFF
    -DLLMBENCH_INSTALL=ON)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/llmbench/cmake)
vcpkg_fixup_pkgconfig()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
