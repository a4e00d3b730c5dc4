// llmbench/eval/datasets.hpp - the evaluation datasets in their native formats.
//
// MMLU (CSV folders), ARC (JSONL), HellaSwag (6-line text form, or the original JSONL),
// GSM8K (JSONL, "#### N" answers), HumanEval (JSONL or .jsonl.gz), MBPP (JSONL), TruthfulQA
// (the CSV, or the MC JSON with mc1_targets). Read from a path the user gives; nothing is
// bundled. A malformed record stops with file, line and field.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/eval/text_file.hpp"

namespace llmbench::eval {

/// A multiple-choice question: MMLU, ARC-Challenge, HellaSwag, TruthfulQA MC1.
struct ChoiceItem {
    std::string id;
    std::string subject;  ///< MMLU subject ("abstract_algebra"); empty elsewhere
    std::string question;
    std::vector<std::string> choices;
    std::size_t gold = 0;  ///< index into choices
};

/// A math word problem (GSM8K): the worked solution ends "#### N".
struct MathItem {
    std::string id, question, solution, answer;
};

/// A code problem (HumanEval, MBPP).
struct CodeItem {
    std::string id;
    std::string prompt;       ///< HumanEval: signature + docstring; MBPP: the task text
    std::string test;         ///< HumanEval: `def check(candidate)`; MBPP: the asserts, one per line
    std::string entry_point;  ///< HumanEval: the function name
    std::vector<std::string> test_list;  ///< MBPP: the asserts shown in the prompt
    std::string reference_solution;      ///< HumanEval canonical_solution / MBPP code, when given (an oracle for tests)
};

namespace detail {

inline error bad_record(const std::string& where, const std::string& why) { return error(errc::usage, where + ": " + why); }

/// Calls on_line(line, line_number) for each non-blank line.
template <class OnLine>
void for_each_line(std::string_view text, OnLine&& on_line) {
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!llmbench::detail::trim(line, " \t").empty()) on_line(line, line_no);
    }
}

/// One JSON object per line; on_object(object, "file:line").
template <class OnObject>
void for_each_json_line(const std::string& path, OnObject&& on_object) {
    const std::string text = read_text_file(path);
    simdjson::dom::parser parser;
    for_each_line(text, [&](std::string_view line, std::size_t line_no) {
        const std::string where = path + ":" + std::to_string(line_no);
        simdjson::dom::element doc;
        simdjson::dom::object obj;
        if (auto err = parser.parse(line.data(), line.size()).get(doc))
            throw bad_record(where, std::string("invalid JSON (") + simdjson::error_message(err) + ")");
        if (doc.get_object().get(obj)) throw bad_record(where, "expected a JSON object");
        on_object(obj, where);
    });
}

inline std::string string_field(simdjson::dom::object o, const char* name, const std::string& where) {
    std::string_view s;
    if (o[name].get_string().get(s)) throw bad_record(where, std::string("field \"") + name + "\" is missing or not a string");
    return std::string(s);
}

/// RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines.
/// on_record(fields, line where the record starts).
template <class OnRecord>
void for_each_csv_record(std::string_view text, const std::string& path, OnRecord&& on_record) {
    std::vector<std::string> fields(1);
    bool quoted = false, any = false;
    std::size_t line = 1, start_line = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') fields.back() += text[++i];
            else if (c == '"') quoted = false;
            else {
                if (c == '\n') ++line;
                fields.back() += c;
            }
            continue;
        }
        if (c == '"') {
            quoted = any = true;
        } else if (c == ',') {
            fields.emplace_back();
            any = true;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            if (any) on_record(fields, start_line);
            fields.assign(1, "");
            any = false;
            start_line = ++line;
        } else {
            fields.back() += c;
            any = true;
        }
    }
    if (quoted) throw bad_record(path + ":" + std::to_string(start_line), "a quoted field never ends");
    if (any) on_record(fields, start_line);
}

inline std::size_t letter_index(std::string_view letter, std::size_t n, const std::string& where, const char* field) {
    if (letter.size() == 1 && letter[0] >= 'A' && static_cast<std::size_t>(letter[0] - 'A') < n) return static_cast<std::size_t>(letter[0] - 'A');
    if (letter.size() == 1 && letter[0] >= '1' && static_cast<std::size_t>(letter[0] - '1') < n) return static_cast<std::size_t>(letter[0] - '1');
    throw bad_record(where, std::string("field \"") + field + "\" must be a letter A-" + std::string(1, static_cast<char>('A' + n - 1)) +
                                " (got \"" + std::string(letter) + "\")");
}

/// A fixed-seed shuffle (splitmix64 + Fisher-Yates), the same on every platform: the gold
/// answer of TruthfulQA comes first in the files and must not stay at A.
inline std::vector<std::size_t> stable_permutation(std::size_t n, std::uint64_t seed) {
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::uint64_t x = seed;
    for (std::size_t i = n; i > 1; --i) {
        x += 0x9E3779B97F4A7C15ULL;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        std::swap(order[i - 1], order[static_cast<std::size_t>(z % i)]);
    }
    return order;
}

inline ChoiceItem shuffled(ChoiceItem item, std::uint64_t seed) {
    const auto order = stable_permutation(item.choices.size(), seed);
    std::vector<std::string> choices;
    std::size_t gold = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
        choices.push_back(item.choices[order[i]]);
        if (order[i] == item.gold) gold = i;
    }
    item.choices = std::move(choices);
    item.gold = gold;
    return item;
}

}  // namespace detail

/// MMLU: `dir/<split>/<subject>_<split>.csv` (no header: question, A, B, C, D, answer letter),
/// subjects in name order, items in file order. `dir` may also be the split folder itself.
inline std::vector<ChoiceItem> load_mmlu(const std::string& dir, const std::string& split = "test") {
    namespace fs = std::filesystem;
    fs::path folder = fs::path(dir) / split;
    if (!fs::is_directory(folder)) folder = dir;
    if (!fs::is_directory(folder)) throw error(errc::io, "MMLU: no folder '" + dir + "' (expected dev/, val/, test/ inside)");
    const std::string suffix = "_" + split + ".csv";
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(folder))
        if (detail::ends_with(e.path().filename().string(), suffix)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw error(errc::io, "MMLU: no *" + suffix + " files in '" + folder.string() + "'");
    std::vector<ChoiceItem> items;
    for (const auto& file : files) {
        const std::string name = file.filename().string();
        const std::string subject = name.substr(0, name.size() - suffix.size());
        std::size_t n = 0;
        detail::for_each_csv_record(read_text_file(file.string()), file.string(), [&](const std::vector<std::string>& f, std::size_t line) {
            const std::string where = file.string() + ":" + std::to_string(line);
            if (f.size() != 6) throw detail::bad_record(where, "expected 6 fields (question, A, B, C, D, answer), got " + std::to_string(f.size()));
            ChoiceItem item{subject + "/" + std::to_string(n++), subject, f[0], {f[1], f[2], f[3], f[4]}, 0};
            item.gold = detail::letter_index(llmbench::detail::trim(f[5], " "), 4, where, "answer");
            items.push_back(std::move(item));
        });
    }
    return items;
}

/// ARC (AI2 JSONL): {"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"};
/// labels A-E or 1-5.
inline std::vector<ChoiceItem> load_arc(const std::string& path) {
    std::vector<ChoiceItem> items;
    detail::for_each_json_line(path, [&](simdjson::dom::object o, const std::string& where) {
        ChoiceItem item;
        item.id = detail::string_field(o, "id", where);
        simdjson::dom::object q;
        simdjson::dom::array choices;
        if (o["question"].get_object().get(q)) throw detail::bad_record(where, "field \"question\" must be an object");
        item.question = detail::string_field(q, "stem", where);
        if (q["choices"].get_array().get(choices)) throw detail::bad_record(where, "field \"question.choices\" must be an array");
        std::vector<std::string> labels;
        for (auto c : choices) {
            simdjson::dom::object co;
            if (c.get_object().get(co)) throw detail::bad_record(where, "field \"question.choices\" must hold objects");
            item.choices.push_back(detail::string_field(co, "text", where));
            labels.push_back(detail::string_field(co, "label", where));
        }
        const std::string key = detail::string_field(o, "answerKey", where);
        const auto it = std::find(labels.begin(), labels.end(), key);
        if (it == labels.end()) throw detail::bad_record(where, "field \"answerKey\" (\"" + key + "\") names no choice");
        item.gold = static_cast<std::size_t>(it - labels.begin());
        items.push_back(std::move(item));
    });
    return items;
}

/// HellaSwag: the 6-line text form (context, gold index, four endings) or the original JSONL
/// ({"ind", "ctx", "endings", "label"}); told apart by the first character.
inline std::vector<ChoiceItem> load_hellaswag(const std::string& path) {
    const std::string text = read_text_file(path);
    std::vector<ChoiceItem> items;
    if (!text.empty() && text[0] == '{') {
        detail::for_each_json_line(path, [&](simdjson::dom::object o, const std::string& where) {
            ChoiceItem item;
            std::int64_t ind = 0, label = 0;
            item.id = o["ind"].get_int64().get(ind) ? std::to_string(items.size()) : std::to_string(ind);
            item.question = detail::string_field(o, "ctx", where);
            simdjson::dom::array endings;
            if (o["endings"].get_array().get(endings)) throw detail::bad_record(where, "field \"endings\" must be an array");
            for (auto e : endings) {
                std::string_view s;
                if (e.get_string().get(s)) throw detail::bad_record(where, "field \"endings\" must hold strings");
                item.choices.emplace_back(s);
            }
            if (o["label"].get_int64().get(label) || label < 0 || static_cast<std::size_t>(label) >= item.choices.size())
                throw detail::bad_record(where, "field \"label\" must index \"endings\"");
            item.gold = static_cast<std::size_t>(label);
            items.push_back(std::move(item));
        });
        return items;
    }
    std::vector<std::pair<std::string, std::size_t>> lines;
    detail::for_each_line(text, [&](std::string_view line, std::size_t n) { lines.emplace_back(std::string(line), n); });
    if (lines.size() % 6 != 0)
        throw detail::bad_record(path + ":" + std::to_string(lines.empty() ? 0 : lines.back().second),
                                 "the text form has 6 lines per item; " + std::to_string(lines.size()) + " lines is not a multiple of 6");
    for (std::size_t i = 0; i < lines.size(); i += 6) {
        ChoiceItem item{std::to_string(i / 6), "", lines[i].first, {}, 0};
        const std::string& label = lines[i + 1].first;
        if (label.size() != 1 || label[0] < '0' || label[0] > '3')
            throw detail::bad_record(path + ":" + std::to_string(lines[i + 1].second), "gold ending index must be 0-3 (got \"" + label + "\")");
        item.gold = static_cast<std::size_t>(label[0] - '0');
        for (std::size_t k = 2; k < 6; ++k) item.choices.push_back(lines[i + k].first);
        items.push_back(std::move(item));
    }
    return items;
}

/// GSM8K JSONL: {"question", "answer"}; the answer is the worked solution ending "#### N".
inline std::vector<MathItem> load_gsm8k(const std::string& path) {
    std::vector<MathItem> items;
    detail::for_each_json_line(path, [&](simdjson::dom::object o, const std::string& where) {
        MathItem item;
        item.id = std::to_string(items.size());
        item.question = detail::string_field(o, "question", where);
        item.solution = detail::string_field(o, "answer", where);
        const auto hashes = item.solution.rfind("####");
        if (hashes == std::string::npos) throw detail::bad_record(where, "field \"answer\" has no \"#### N\" final answer");
        std::string answer(llmbench::detail::trim(item.solution.substr(hashes + 4), " \t\r\n"));
        answer.erase(std::remove(answer.begin(), answer.end(), ','), answer.end());
        item.answer = answer;
        items.push_back(std::move(item));
    });
    return items;
}

/// HumanEval JSONL (or .jsonl.gz): {"task_id", "prompt", "entry_point", "test", ...}.
inline std::vector<CodeItem> load_humaneval(const std::string& path) {
    std::vector<CodeItem> items;
    detail::for_each_json_line(path, [&](simdjson::dom::object o, const std::string& where) {
        CodeItem item{detail::string_field(o, "task_id", where), detail::string_field(o, "prompt", where),
                      detail::string_field(o, "test", where), detail::string_field(o, "entry_point", where), {}, {}};
        std::string_view solution;
        if (o["canonical_solution"].get_string().get(solution) == simdjson::SUCCESS) item.reference_solution = std::string(solution);
        items.push_back(std::move(item));
    });
    return items;
}

/// MBPP JSONL: {"task_id", "text", "test_list": [asserts], "test_setup_code"?}.
inline std::vector<CodeItem> load_mbpp(const std::string& path) {
    std::vector<CodeItem> items;
    detail::for_each_json_line(path, [&](simdjson::dom::object o, const std::string& where) {
        CodeItem item;
        std::int64_t id = 0;
        if (o["task_id"].get_int64().get(id)) throw detail::bad_record(where, "field \"task_id\" must be an integer");
        item.id = "mbpp/" + std::to_string(id);
        item.prompt = detail::string_field(o, "text", where);
        std::string_view code;
        if (o["code"].get_string().get(code) == simdjson::SUCCESS) item.reference_solution = std::string(code);
        simdjson::dom::array tests;
        if (o["test_list"].get_array().get(tests)) throw detail::bad_record(where, "field \"test_list\" must be an array of strings");
        std::string_view setup;
        if (o["test_setup_code"].get_string().get(setup) == simdjson::SUCCESS && !setup.empty()) item.test = std::string(setup) + "\n";
        for (auto t : tests) {
            std::string_view s;
            if (t.get_string().get(s)) throw detail::bad_record(where, "field \"test_list\" must be an array of strings");
            item.test_list.emplace_back(s);
            item.test += std::string(s) + "\n";
        }
        items.push_back(std::move(item));
    });
    return items;
}

/// TruthfulQA's two multiple-choice forms: MC1 (one true answer among 2-13, as published
/// numbers and lm-evaluation-harness score it) and MC0 (the January 2025 revision's binary
/// form: the best answer against the best incorrect one).
enum class TruthfulQAForm { mc1, mc0 };

/// TruthfulQA as multiple choice. From `mc_task.json` (`mc1_targets` or `mc0_targets`, true
/// answer first) or from `TruthfulQA.csv` (MC1: Best Answer against the Incorrect Answers; MC0:
/// against the Best Incorrect Answer, 2025 only), its columns found by their names, since the
/// 2025 revision inserted one. The choices are shuffled with a fixed seed per question, so the
/// gold is not always A.
inline std::vector<ChoiceItem> load_truthfulqa(const std::string& path, TruthfulQAForm form = TruthfulQAForm::mc1) {
    std::vector<ChoiceItem> items;
    const std::string text = read_text_file(path);
    const char* field = form == TruthfulQAForm::mc1 ? "mc1_targets" : "mc0_targets";
    if (detail::ends_with(path, ".json")) {
        simdjson::dom::parser parser;
        simdjson::dom::array all;
        if (auto err = parser.parse(text).get_array().get(all))
            throw detail::bad_record(path, std::string("expected a JSON array (") + simdjson::error_message(err) + ")");
        for (auto e : all) {
            const std::string where = path + ": item " + std::to_string(items.size());
            simdjson::dom::object o, targets;
            if (e.get_object().get(o) || o[field].get_object().get(targets))
                throw detail::bad_record(where, std::string("field \"") + field + "\" must be an object of answer: 0/1" +
                                                    (form == TruthfulQAForm::mc0 ? " (MC0 is in the January 2025 revision only)" : ""));
            ChoiceItem item{std::to_string(items.size()), "", detail::string_field(o, "question", where), {}, 0};
            std::size_t true_answers = 0;
            for (auto [answer, label] : targets) {
                std::int64_t v = 0;
                if (label.get_int64().get(v)) throw detail::bad_record(where, std::string("field \"") + field + "\" values must be 0 or 1");
                if (v == 1) {
                    item.gold = item.choices.size();
                    ++true_answers;
                }
                item.choices.emplace_back(answer);
            }
            if (true_answers != 1) throw detail::bad_record(where, std::string("field \"") + field + "\" must hold exactly one true answer");
            items.push_back(detail::shuffled(std::move(item), items.size() + 1));
        }
        return items;
    }
    std::map<std::string, std::size_t> column;  // from the header
    std::size_t header_fields = 0;  // not column.size(): a repeated name holds one entry, and its index could pass the end of a short row
    const auto at = [&](const std::vector<std::string>& f, const char* name) -> const std::string& { return f[column.at(name)]; };
    detail::for_each_csv_record(text, path, [&](const std::vector<std::string>& f, std::size_t line) {
        const std::string where = path + ":" + std::to_string(line);
        if (column.empty()) {
            for (std::size_t i = 0; i < f.size(); ++i) column[std::string(llmbench::detail::trim(f[i], " "))] = i;
            header_fields = f.size();
            std::vector<const char*> needed = {"Category", "Question", "Best Answer"};
            needed.push_back(form == TruthfulQAForm::mc1 ? "Incorrect Answers" : "Best Incorrect Answer");
            for (const char* name : needed)
                if (!column.count(name))
                    throw detail::bad_record(where, std::string("expected a TruthfulQA header with the column \"") + name + "\"" +
                                                        (form == TruthfulQAForm::mc0 ? " (MC0 is in the January 2025 revision only)" : ""));
            return;
        }
        if (f.size() < header_fields) throw detail::bad_record(where, "expected " + std::to_string(header_fields) + " fields, got " + std::to_string(f.size()));
        ChoiceItem item{std::to_string(items.size()), at(f, "Category"), at(f, "Question"), {at(f, "Best Answer")}, 0};
        if (form == TruthfulQAForm::mc0) {
            item.choices.push_back(at(f, "Best Incorrect Answer"));
        } else {
            for (std::string_view rest = at(f, "Incorrect Answers"); !rest.empty();) {  // "; "-separated
                const auto semi = rest.find(';');
                const std::string answer(llmbench::detail::trim(rest.substr(0, semi), " "));
                if (!answer.empty()) item.choices.push_back(answer);
                rest.remove_prefix(semi == std::string_view::npos ? rest.size() : semi + 1);
            }
        }
        if (item.choices.size() < 2 || item.choices.back().empty()) throw detail::bad_record(where, "no incorrect answer");
        items.push_back(detail::shuffled(std::move(item), items.size() + 1));
    });
    return items;
}

}  // namespace llmbench::eval
