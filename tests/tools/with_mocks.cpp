// Runs a program beside llmbench's in-process mock servers, as the docs' examples are tested:
// OLLAMA_HOST names a MockOllama and the program's one argument is a MockOpenAI's base URL.
// Usage: with_mocks PROGRAM. Exits with the program's status.
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: with_mocks PROGRAM\n");
        return 2;
    }
    llmbench::testing::MockConfig ollama_config;
    ollama_config.token_delay = std::chrono::milliseconds(2);  // so gaps and rates are not zero
    ollama_config.first_token_delay = std::chrono::milliseconds(5);
    llmbench::testing::MockOllama ollama(ollama_config);
    llmbench::testing::MockOpenAIConfig openai_config;
    openai_config.flavour = llmbench::testing::OpenAIFlavour::llamacpp;
    openai_config.token_delay = std::chrono::milliseconds(2);
    llmbench::testing::MockOpenAI openai(openai_config);

    const std::string openai_url = openai.base_url();
    ::setenv("OLLAMA_HOST", ollama.url().c_str(), 1);
    const pid_t child = ::fork();
    if (child < 0) return 2;
    if (child == 0) {
        ::execl(argv[1], argv[1], openai_url.c_str(), static_cast<char*>(nullptr));
        const char message[] = "with_mocks: cannot run the program\n";  // only async-signal-safe calls after fork
        (void)!::write(2, message, sizeof message - 1);
        std::_Exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
    }
    if (WIFSIGNALED(status)) {
        std::fprintf(stderr, "with_mocks: %s died of signal %d\n", argv[1], WTERMSIG(status));
        return 1;
    }
    return WEXITSTATUS(status);
}
