// Shared by the example programs: CLI11 parsing with the programs' exit codes.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

namespace example {

/// Parses the command line as CLI11_PARSE does, with one difference: an argument error (an
/// unknown flag, a bad value, a missing option) exits 2, the programs' code for bad
/// arguments, instead of CLI11's own (105, 106, ...). CLI11 prints its message either way;
/// --help and --version exit 0. Returns the exit code, or nullopt to go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
}

}  // namespace example
