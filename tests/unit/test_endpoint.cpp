#include <llmbench/core/endpoint.hpp>

#include <cstdlib>

#include <doctest/doctest.h>

using llmbench::parse_ollama_host;

TEST_CASE("OLLAMA_HOST forms parse as Ollama's client reads them") {
    CHECK(parse_ollama_host("").url() == "http://127.0.0.1:11434");
    CHECK(parse_ollama_host("example.com").url() == "http://example.com:11434");
    CHECK(parse_ollama_host("example.com:1234").url() == "http://example.com:1234");
    CHECK(parse_ollama_host("http://example.com").url() == "http://example.com:80");
    CHECK(parse_ollama_host("https://example.com").url() == "https://example.com:443");
    CHECK(parse_ollama_host("http://example.com:8080/ollama/").url() == "http://example.com:8080/ollama");
    CHECK(parse_ollama_host("  \"127.0.0.1:9000\" ").url() == "http://127.0.0.1:9000");
    CHECK(parse_ollama_host(":5000").url() == "http://127.0.0.1:5000");
    CHECK(parse_ollama_host("[::1]:11435").url() == "http://[::1]:11435");
    CHECK(parse_ollama_host("::1").host == "::1");
}

TEST_CASE("addresses that mean every interface mean loopback to a client") {
    CHECK(parse_ollama_host("0.0.0.0").url() == "http://127.0.0.1:11434");
    CHECK(parse_ollama_host("0.0.0.0:8080").url() == "http://127.0.0.1:8080");
    CHECK(parse_ollama_host("[::]:11434").host == "::1");
}

TEST_CASE("bad hosts are usage errors that name the value") {
    for (const char* bad : {"localhost:99999", "localhost:abc", "ftp://x", "[::1"}) {
        CAPTURE(bad);
        try {
            parse_ollama_host(bad);
            FAIL("no error");
        } catch (const llmbench::error& e) {
            CHECK(e.code() == llmbench::errc::usage);
            CHECK(std::string(e.what()).find(bad) != std::string::npos);
        }
    }
}

TEST_CASE("endpoint_from_env reads OLLAMA_HOST") {
    ::setenv("OLLAMA_HOST", "http://10.1.2.3:4321", 1);
    CHECK(llmbench::endpoint_from_env().url() == "http://10.1.2.3:4321");
    ::unsetenv("OLLAMA_HOST");
    CHECK(llmbench::endpoint_from_env().url() == "http://127.0.0.1:11434");
}

#include <llmbench/client/ollama_client.hpp>

TEST_CASE("a base path is kept out of the authority - the client accepts IPv6 and https endpoints") {
    const auto ep = parse_ollama_host("https://[::1]:8443/ollama");
    CHECK(ep.authority() == "[::1]:8443");
    CHECK(ep.url() == "https://[::1]:8443/ollama");
    CHECK_NOTHROW(llmbench::OllamaClient{parse_ollama_host("[::1]:11434")});
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    CHECK_NOTHROW(llmbench::OllamaClient{ep});
#else
    CHECK_THROWS_AS(llmbench::OllamaClient{ep}, llmbench::error);
#endif
}
