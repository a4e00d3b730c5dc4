# Conan 2 recipe: a header-library packaged by llmbench's own install rules, so that
# consumers get the same llmbenchConfig.cmake (targets llmbench::llmbench, llmbench::eval)
# and llmbench.pc as from a system install.
#   conan create packaging/conan --build=missing
import os
import re

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load


class LlmbenchConan(ConanFile):
    name = "llmbench"
    description = "Header-only C++17 benchmarks for local LLM servers"
    license = "MIT"
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"eval": [True, False]}
    default_options = {"eval": True}
    no_copy_source = True

    def export_sources(self):
        root = os.path.join(self.recipe_folder, "..", "..")
        for pattern in ("CMakeLists.txt", "cmake/*", "include/*", "LICENSE"):
            copy(self, pattern, root, self.export_sources_folder)

    def set_version(self):
        header = load(self, os.path.join(self.recipe_folder, "..", "..", "include", "llmbench", "version.hpp"))
        self.version = re.search(r'#define LLMBENCH_VERSION_STRING "([0-9.]+)"', header).group(1)

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # transitive_headers: llmbench's headers include theirs.
        self.requires("simdjson/[>=3.0 <4]", transitive_headers=True)
        self.requires("cpp-httplib/[>=0.11 <1]", transitive_headers=True)
        if self.options.eval:
            self.requires("zlib/[>=1.2.11 <2]", transitive_headers=True)
            self.requires("bzip2/[>=1.0.8 <2]", transitive_headers=True)

    def package_id(self):
        self.info.clear()  # the same headers for every configuration

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        tc.cache_variables.update({"LLMBENCH_BUILD_TESTS": "OFF", "LLMBENCH_BUILD_EXAMPLES": "OFF",
                                   "LLMBENCH_BUILD_BENCH": "OFF", "LLMBENCH_INSTALL": "ON"})
        tc.generate()

    def package(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.install()
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))  # where Conan looks for it

    def package_info(self):
        # Consumers use llmbench's own config files (share/llmbench/cmake), not generated ones.
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs.append(os.path.join("share", "llmbench", "cmake"))
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.system_libs = ["pthread", "dl"] if self.settings.os == "Linux" else []
