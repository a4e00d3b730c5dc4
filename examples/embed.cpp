// The smallest honest benchmark: five runs of one prompt, then the summary.
// With --demo it talks to the in-process mock server instead of Ollama.
#include <llmbench/llmbench.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <iostream>
#include <memory>
#include <string>

int main(int argc, char** argv) {
    std::unique_ptr<llmbench::testing::MockOllama> mock;
    if (argc > 1 && std::string(argv[1]) == "--demo") mock = std::make_unique<llmbench::testing::MockOllama>();
    llmbench::OllamaClient client = mock ? llmbench::OllamaClient(mock->endpoint()) : llmbench::OllamaClient();
    llmbench::OllamaBackend backend(client);
    if (mock) backend.set_label("mock");  // the records say whose numbers they are

    llmbench::MetricsAccumulator acc;
    for (int run = 0; run < 5; ++run) {
        llmbench::GenerateRequest req;
        req.model = "llama3.1:8b";
        req.prompt = "Why is the sky blue?";
        req.options.temperature = 0;
        req.options.num_predict = 64;
        llmbench::RunLabel label;
        label.prompt_id = "sky";
        label.run_index = run;
        const llmbench::RunRecord record = llmbench::measure(backend, req, label);  // a failure is a record too
        std::cout << record.to_json() << '\n';
        acc.add(record);
    }
    std::cout << acc.summary().to_json() << '\n';
    return acc.runs_failed() == 0 ? 0 : 1;
}
