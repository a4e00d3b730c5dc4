// llmbench/eval/text_file.hpp - a dataset file's text, from plain, .gz or .bz2 files.
//
// Needs zlib and libbz2 (the llmbench::eval CMake target links them).
#pragma once

#include <bzlib.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "llmbench/core/error.hpp"

namespace llmbench::eval {

namespace detail {
inline bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace detail

/// The whole decompressed text of `path`; the compression is chosen by the file's ending.
inline std::string read_text_file(const std::string& path) {
    if (detail::ends_with(path, ".gz")) {
        const std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(::gzopen(path.c_str(), "rb"), ::gzclose);
        if (!gz) throw error(errc::io, "cannot open '" + path + "'");
        std::string out;
        char buf[1 << 16];
        int n = 0;
        while ((n = ::gzread(gz.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
        if (n < 0) throw error(errc::io, "'" + path + "': not a valid gzip file");
        return out;
    }
    if (detail::ends_with(path, ".bz2")) {
        const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
        if (!file) throw error(errc::io, "cannot open '" + path + "'");
        int status = BZ_OK;
        BZFILE* bz = ::BZ2_bzReadOpen(&status, file.get(), 0, 0, nullptr, 0);
        std::string out;
        char buf[1 << 16];
        while (status == BZ_OK) {
            const int n = ::BZ2_bzRead(&status, bz, buf, sizeof buf);
            if (status == BZ_OK || status == BZ_STREAM_END) out.append(buf, static_cast<std::size_t>(n));
        }
        int ignored = BZ_OK;
        ::BZ2_bzReadClose(&ignored, bz);
        if (status != BZ_STREAM_END) throw error(errc::io, "'" + path + "': not a valid bzip2 file");
        return out;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error(errc::io, "cannot open '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace llmbench::eval
