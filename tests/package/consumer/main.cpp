// A program built against an installed llmbench: one request to the mock server.
#include <llmbench/llmbench.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <iostream>

int main() {
    llmbench::testing::MockOllama mock;
    llmbench::OllamaClient client(mock.endpoint());
    llmbench::GenerateRequest req;
    req.model = "llama3.1:8b";
    req.prompt = "hello";
    req.options.num_predict = 5;
    llmbench::StreamTimer timer;
    const auto result = client.generate(req, timer);
    const auto record = llmbench::make_run_record(result, timer, {"mock", req.model, "p", 0, false, 5});
    std::cout << record.to_json() << '\n';
    return record.ok && record.server.eval_count == 5 ? 0 : 1;
}
