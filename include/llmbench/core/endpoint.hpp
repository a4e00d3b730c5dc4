// llmbench/core/endpoint.hpp - where the server is (OLLAMA_HOST rules) and how long to wait for it.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

#include "llmbench/detail/text.hpp"
#include "llmbench/core/error.hpp"

namespace llmbench {

/// A server's base URL, split into the parts an HTTP client needs.
struct Endpoint {
    std::string scheme = "http";
    std::string host = "127.0.0.1";
    int port = 11434;
    std::string base_path;  ///< without leading or trailing '/', usually empty

    /// "127.0.0.1:11434", IPv6 hosts in brackets.
    std::string authority() const {
        return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
    }

    /// "http://127.0.0.1:11434", plus "/base_path" when set.
    std::string url() const { return scheme + "://" + authority() + (base_path.empty() ? "" : "/" + base_path); }

    /// The server is on this machine (a loopback address or name): its process can be read.
    bool is_loopback() const { return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0; }
};

/// How long to wait, in seconds. A cold model load or a long prefill sends nothing for
/// minutes, so the first byte gets a far longer budget than the gaps between chunks.
struct Timeouts {
    double connect_s = 5.0;       ///< TCP connect
    double first_byte_s = 600.0;  ///< request sent -> response headers
    double idle_s = 120.0;        ///< longest silence between two reads of the body
};

/// Parses a host the way Ollama's own client reads OLLAMA_HOST: `host`, `host:port`,
/// `scheme://host[:port][/path]`, `[v6]:port`, `:port`. Without a scheme the port
/// defaults to 11434; with `http://` to 80, with `https://` to 443. Addresses that mean
/// "every interface" to a server (0.0.0.0, ::) mean loopback to a client.
/// Throws llmbench::error(errc::usage) naming the value for a bad scheme or port.
inline Endpoint parse_ollama_host(std::string_view value) {
    const std::string original(value);
    std::string_view s = detail::trim(detail::trim(value, " \t\r\n"), "\"'");
    Endpoint ep;
    std::string default_port = "11434";
    if (auto sep = s.find("://"); sep != std::string_view::npos) {
        ep.scheme = std::string(s.substr(0, sep));
        s.remove_prefix(sep + 3);
        if (ep.scheme == "http") default_port = "80";
        else if (ep.scheme == "https") default_port = "443";
        else throw error(errc::usage, "host '" + original + "': unsupported scheme '" + ep.scheme + "' (use http or https)");
    }
    if (auto slash = s.find('/'); slash != std::string_view::npos) {
        ep.base_path = std::string(detail::trim(s.substr(slash), "/"));
        s = s.substr(0, slash);
    }
    std::string_view host = s, port = default_port;
    if (!s.empty() && s.front() == '[') {  // [v6] or [v6]:port
        auto close = s.find(']');
        if (close == std::string_view::npos) throw error(errc::usage, "host '" + original + "': missing ']'");
        host = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') throw error(errc::usage, "host '" + original + "': expected ':' after ']'");
            port = s.substr(close + 2);
        }
    } else if (auto colon = s.find(':'); colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos) {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
    }  // else: a bare host, or a bare IPv6 address without brackets
    long number = -1;
    if (!port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string_view::npos)
        number = std::strtol(std::string(port).c_str(), nullptr, 10);
    if (number < 1 || number > 65535)
        throw error(errc::usage, "host '" + original + "': invalid port '" + std::string(port) + "'");
    ep.port = static_cast<int>(number);
    ep.host = std::string(host);
    if (ep.host.empty() || ep.host == "0.0.0.0") ep.host = "127.0.0.1";
    else if (ep.host == "::") ep.host = "::1";
    return ep;
}

/// The endpoint named by the OLLAMA_HOST environment variable, else 127.0.0.1:11434.
inline Endpoint endpoint_from_env() {
    const char* value = std::getenv("OLLAMA_HOST");
    if (value == nullptr || detail::trim(value, " \t\r\n\"'").empty()) return Endpoint{};
    return parse_ollama_host(value);
}

}  // namespace llmbench
