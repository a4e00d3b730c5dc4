// Validates the Kubernetes manifests of docs/scale against the API schema, and that each Job
// gives every pod its shard:
//   node validate.mjs FILE...            exit 0 when every Job is valid, 1 naming what is not
//   node validate.mjs --mutants FILE     the checker's own test: each broken copy must fail
// Types and values are checked by kubernetes-models' JSON schemas; field names by TypeScript
// against the same package's interfaces, since those schemas allow unknown fields and
// `kubectl apply` (strict field validation, Kubernetes 1.27+) rejects them.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let YAML, Job, ts;
try {
  YAML = await import("yaml");
  ({ Job } = await import("kubernetes-models/batch/v1/Job"));
  ts = (await import("typescript")).default;
} catch {
  console.log("skipped: the schema checker is not installed (npm ci in tools/k8s-validate, or scripts/install-deps.sh --with-npm-tools)");
  process.exit(77);
}

const here = dirname(fileURLToPath(import.meta.url));

let program;  // the last one, and the declaration files it parsed: each check after the first reuses them
const parsed = new Map();

/// The field names TypeScript finds in no interface of the Job's: "'name' (line N): message".
function unknownFields(object, lineOf) {
  const file = join(here, "manifest.check.ts");  // virtual, so that node_modules resolves
  const source = `import type { IJob } from "kubernetes-models/batch/v1/Job";\nexport const job: IJob = ${JSON.stringify(object, null, 1)};\n`;
  const options = {
    noEmit: true, strict: true, skipLibCheck: true, types: [],
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, ...rest) => {
    if (name === file) return ts.createSourceFile(name, source, ts.ScriptTarget.ES2022);
    if (!parsed.has(name)) parsed.set(name, getSourceFile.call(host, name, ...rest));
    return parsed.get(name);
  };
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  program = ts.createProgram([file], options, host, program);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  return diagnostics.map((d) => {
    // The manifest is JSON, so TypeScript quotes a key twice: '"completion"'.
    const message = ts.flattenDiagnosticMessageText(d.messageText, "; ").replace(/'"([^"']*)"'/g, "'$1'");
    const field = message.match(/'([^']+)' does not exist in type/)?.[1];
    const lines = field ? lineOf(field) : [];
    return lines.length > 0 ? `${message} (line ${lines.join(", ")})` : message;
  });
}

/// Every problem of one Job object, as sentences; none when it is valid.
function problems(object, lineOf) {
  if (object?.apiVersion !== "batch/v1" || object?.kind !== "Job") return ["expected apiVersion batch/v1, kind Job"];
  const found = [];
  try {
    new Job(object).validate();
  } catch (e) {
    found.push(`not a valid Job: ${e.message}`);
  }
  for (const m of unknownFields(object, lineOf)) found.push(`not a valid Job: ${m}`);
  const spec = object.spec ?? {};
  if (spec.completionMode !== "Indexed") found.push("completionMode must be Indexed (each pod gets JOB_COMPLETION_INDEX)");
  for (const c of spec.template?.spec?.containers ?? []) {
    const args = (c.args ?? []).join(" ");
    const shard = args.match(/--shard \$\(JOB_COMPLETION_INDEX\)\/(\d+)/);
    if (!shard) found.push(`container ${c.name}: no --shard $(JOB_COMPLETION_INDEX)/N in its args`);
    else if (Number(shard[1]) !== spec.completions) found.push(`container ${c.name}: --shard .../${shard[1]} but completions is ${spec.completions}`);
    if (!/\$\(JOB_COMPLETION_INDEX\)/.test(args.replace(/--shard \S+/, ""))) found.push(`container ${c.name}: the output file does not name the shard`);
  }
  return found;
}

/// The YAML documents of a file: { where, object, lineOf(key) } or { where, error }.
function documents(path) {
  const lineCounter = new YAML.LineCounter();
  const docs = YAML.parseAllDocuments(readFileSync(path, "utf8"), { lineCounter });
  return docs.map((doc, i) => {
    const where = `${path} (document ${i + 1})`;
    if (doc.errors.length > 0) return { where, error: doc.errors.map(String).join("; ") };
    const lineOf = (key) => {
      const lines = [];
      YAML.visit(doc, { Pair: (_, pair) => void (pair.key?.value === key && pair.key.range && lines.push(lineCounter.linePos(pair.key.range[0]).line)) });
      return lines;
    };
    return { where, object: doc.toJS(), lineOf };
  });
}

/// Broken copies of a valid Job, each with the words its rejection must contain.
const mutants = [
  ["a misspelt field of the Job's spec", (j) => { j.spec.completion = j.spec.completions; delete j.spec.completions; }, "'completion' does not exist"],
  ["a misspelt field of a container", (j) => { const c = j.spec.template.spec.containers[0]; c.volumeMount = c.volumeMounts; delete c.volumeMounts; }, "'volumeMount' does not exist"],
  ["a misspelt field of a volume", (j) => { j.spec.template.spec.volumes[0].configmap = {}; }, "'configmap' does not exist"],
  ["a number as a string", (j) => { j.spec.completions = "four"; }, "/spec/completions must be integer"],
  ["a value not in the enum", (j) => { j.spec.template.spec.restartPolicy = "Sometimes"; }, "restartPolicy"],
  ["no Indexed completion mode", (j) => { delete j.spec.completionMode; }, "completionMode must be Indexed"],
  ["a shard count that is not completions", (j) => { j.spec.completions = 3; }, "but completions is 3"],
  ["an output file that does not name the shard", (j) => {
    const args = j.spec.template.spec.containers[0].args;
    args[args.indexOf("--output") + 1] = "/results/all.jsonl";
  }, "does not name the shard"],
];

let failed = false;
const fail = (where, why) => {
  console.error(`${where}: ${why}`);
  failed = true;
};
const testMutants = process.argv[2] === "--mutants";
const paths = process.argv.slice(testMutants ? 3 : 2);
if (paths.length === 0) fail("validate.mjs", "no file given");
for (const path of paths) {
  const docs = documents(path);
  if (docs.length === 0) fail(path, "no YAML document");
  for (const { where, error, object, lineOf } of docs) {
    if (error) {
      fail(where, error);
      continue;
    }
    if (!testMutants) {
      for (const p of problems(object, lineOf)) fail(where, p);
      continue;
    }
    for (const [what, mutate, expected] of mutants) {
      const broken = structuredClone(object);
      mutate(broken);
      const found = problems(broken, lineOf);
      if (!found.some((p) => p.includes(expected))) fail(where, `${what}: not rejected for "${expected}" (found: ${found.join(" | ") || "nothing"})`);
      else console.log(`rejected, ${what}: ${found.find((p) => p.includes(expected))}`);
    }
  }
}
if (!failed) console.log(testMutants ? `every broken copy rejected: ${paths.join(", ")}` : `valid: ${paths.join(", ")}`);
process.exit(failed ? 1 : 0);
