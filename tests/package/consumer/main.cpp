// A program built against an installed llmbench: one request to the mock server.
#include <llmbench/llmbench.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <iostream>

int main() {
    llmbench::testing::MockOllama mock;
    llmbench::OllamaClient client(mock.endpoint());
    llmbench::OllamaBackend backend(client);
    backend.set_label("mock");
    llmbench::GenerateRequest req;
    req.model = "llama3.1:8b";
    req.prompt = "hello";
    req.options.num_predict = 5;
    const llmbench::RunRecord record = llmbench::measure(backend, req);
    std::cout << record.to_json() << '\n';
    return record.ok() && record.server.eval_count == 5 ? 0 : 1;
}
