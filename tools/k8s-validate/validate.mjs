// Validates the Kubernetes manifests of docs/scale against the API schema (kubernetes-models'
// JSON schemas), and that each Job gives every pod its shard: node validate.mjs FILE...
import { readFileSync } from "node:fs";

let parseAllDocuments, Job;
try {
  ({ parseAllDocuments } = await import("yaml"));
  ({ Job } = await import("kubernetes-models/batch/v1/Job"));
} catch {
  console.log("skipped: the schema checker is not installed (npm ci in tools/k8s-validate, or scripts/install-deps.sh --with-npm-tools)");
  process.exit(77);
}

let failed = false;
const fail = (where, why) => {
  console.error(`${where}: ${why}`);
  failed = true;
};
for (const path of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  if (docs.length === 0) fail(path, "no YAML document");
  docs.forEach((doc, i) => {
    const where = `${path} (document ${i + 1})`;
    if (doc.errors.length > 0) return fail(where, doc.errors.map(String).join("; "));
    const object = doc.toJS();
    if (object?.apiVersion !== "batch/v1" || object?.kind !== "Job") return fail(where, "expected apiVersion batch/v1, kind Job");
    try {
      new Job(object).validate();
    } catch (e) {
      return fail(where, `not a valid Job: ${e.message}`);
    }
    const spec = object.spec;
    if (spec.completionMode !== "Indexed") fail(where, "completionMode must be Indexed (each pod gets JOB_COMPLETION_INDEX)");
    for (const c of spec.template.spec.containers) {
      const args = (c.args ?? []).join(" ");
      const shard = args.match(/--shard \$\(JOB_COMPLETION_INDEX\)\/(\d+)/);
      if (!shard) fail(where, `container ${c.name}: no --shard $(JOB_COMPLETION_INDEX)/N in its args`);
      else if (Number(shard[1]) !== spec.completions) fail(where, `container ${c.name}: --shard .../${shard[1]} but completions is ${spec.completions}`);
      if (!/\$\(JOB_COMPLETION_INDEX\)/.test(args.replace(/--shard \S+/, ""))) fail(where, `container ${c.name}: the output file does not name the shard`);
    }
  });
}
if (!failed) console.log(`valid: ${process.argv.slice(2).join(", ")}`);
process.exit(failed ? 1 : 0);
