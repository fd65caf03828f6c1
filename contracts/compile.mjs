#!/usr/bin/env node
// Compile every .sol file under <srcdir> with the pinned npm `solc` (standard JSON input)
// and write one JSON artifact per contract ({abi, bytecode, deployedBytecode}) to <outdir>.
//
// Why a script instead of solc's CLI: the npm package is the pinned compiler every machine
// gets from `npm ci` (no native solc download), and standard JSON lets us resolve
// `@openzeppelin/...` imports from node_modules and fix the settings in one place.
// Output is deterministic (sorted keys, stable file order, trailing newline) so artifacts
// can be committed and checked for drift in CI.
//
// Usage: node contracts/compile.mjs <srcdir> <outdir> [--exclude <subdir>]...
// `--exclude` leaves out a subdirectory of <srcdir> that is compiled into its own artifact set
// (contracts/src/l2/predeploys -> contracts/out/predeploys).

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NODE_MODULES = path.join(REPO_ROOT, "node_modules");

function usage(message) {
  if (message) console.error(`error: ${message}`);
  console.error("usage: node contracts/compile.mjs <srcdir> <outdir> [--exclude <subdir>]...");
  process.exit(2);
}

/** All .sol files under dir, as sorted POSIX paths relative to dir. */
function findSources(dir, exclude, prefix = "") {
  const found = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory() && exclude.includes(rel)) continue;
    if (entry.isDirectory()) found.push(...findSources(dir, exclude, rel));
    else if (entry.isFile() && entry.name.endsWith(".sol")) found.push(rel);
  }
  return found.sort();
}

/** Recursively sort object keys so JSON.stringify output does not depend on insertion order. */
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

function main() {
  const [srcArg, outArg, ...rest] = process.argv.slice(2);
  if (!srcArg || !outArg) usage();
  const exclude = [];
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] !== "--exclude" || !rest[i + 1]) usage(`unexpected argument: ${rest[i]}`);
    exclude.push(rest[i + 1].replace(/\/+$/, ""));
  }
  const srcDir = path.resolve(srcArg);
  const outDir = path.resolve(outArg);
  if (!fs.existsSync(srcDir) || !fs.statSync(srcDir).isDirectory()) {
    usage(`source dir not found: ${srcArg}`);
  }

  const files = findSources(srcDir, exclude);
  if (files.length === 0) usage(`no .sol files under ${srcArg}`);

  const sources = {};
  for (const rel of files) {
    sources[rel] = { content: fs.readFileSync(path.join(srcDir, rel), "utf8") };
  }

  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: "prague",
      optimizer: { enabled: true, runs: 200 },
      // No metadata hash: keeps bytecode identical across machines and source paths.
      metadata: { bytecodeHash: "none" },
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };

  // Imports: relative to the source dir first, then packages in node_modules
  // (e.g. "@openzeppelin/contracts/token/ERC20/ERC20.sol").
  function findImports(importPath) {
    for (const base of [srcDir, NODE_MODULES]) {
      const candidate = path.resolve(base, importPath);
      if (candidate.startsWith(base + path.sep) && fs.existsSync(candidate)) {
        return { contents: fs.readFileSync(candidate, "utf8") };
      }
    }
    return { error: `import not found: ${importPath}` };
  }

  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const diagnostics = output.errors ?? [];
  for (const d of diagnostics) {
    if (d.severity !== "error") console.error(d.formattedMessage ?? d.message);
  }
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    for (const e of errors) console.error(e.formattedMessage ?? e.message);
    process.exit(1);
  }

  fs.mkdirSync(outDir, { recursive: true });
  const written = [];
  // Only contracts defined in our own sources; library contracts pulled in through imports
  // (OpenZeppelin) are not artifacts of this project.
  for (const rel of files) {
    const contracts = output.contracts?.[rel] ?? {};
    for (const name of Object.keys(contracts).sort()) {
      const c = contracts[name];
      const bytecode = c.evm.bytecode.object;
      // Interfaces and abstract contracts have no bytecode; skip them.
      if (!bytecode) continue;
      if (written.includes(name)) {
        console.error(`error: two contracts named ${name}; artifact names must be unique`);
        process.exit(1);
      }
      const artifact = sortKeys({
        contractName: name,
        sourceName: rel,
        abi: c.abi,
        bytecode: `0x${bytecode}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        compiler: { solc: solc.version(), evmVersion: "prague", optimizerRuns: 200 },
      });
      fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
      written.push(name);
    }
  }
  console.log(`compiled ${files.length} source(s) -> ${written.length} artifact(s) in ${outArg}`);
}

main();
