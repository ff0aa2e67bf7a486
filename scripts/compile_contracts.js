#!/usr/bin/env node
// Compiles contracts/*.sol offline with the pinned solc-js (package.json) and writes
// contracts/<Name>.json (abi, bytecode and what produced them). With --check, compiles and
// exits 1 if a committed artefact differs from what the source compiles to.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = path.resolve(__dirname, "..");
const CONTRACTS = path.join(ROOT, "contracts");
// Paris: no PUSH0, so the bytecode runs on every EVM we target (Polygon, anvil, py-evm).
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "paris",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function compile(fileName) {
  const source = fs.readFileSync(path.join(CONTRACTS, fileName), "utf8");
  const input = { language: "Solidity", sources: { [fileName]: { content: source } }, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const message of output.errors || []) process.stderr.write(message.formattedMessage + "\n");
  if (errors.length) throw new Error(`${fileName} does not compile`);
  const artefacts = [];
  for (const [name, contract] of Object.entries(output.contracts[fileName])) {
    artefacts.push({
      name,
      json: {
        contractName: name,
        sourceName: `contracts/${fileName}`,
        sourceSha256: crypto.createHash("sha256").update(source).digest("hex"),
        compiler: { name: "solc-js", version: solc.version() },
        settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion },
        abi: contract.abi,
        bytecode: "0x" + contract.evm.bytecode.object,
        deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
      },
    });
  }
  return artefacts;
}

function main() {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const fileName of fs.readdirSync(CONTRACTS).filter((f) => f.endsWith(".sol")).sort()) {
    for (const { name, json } of compile(fileName)) {
      const target = path.join(CONTRACTS, `${name}.json`);
      const text = JSON.stringify(json, null, 2) + "\n";
      if (check) {
        const committed = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
        if (committed !== text) {
          process.stderr.write(`contracts/${name}.json is stale: run \`npm run compile\`\n`);
          stale += 1;
        } else {
          process.stdout.write(`contracts/${name}.json matches contracts/${fileName}\n`);
        }
      } else {
        fs.writeFileSync(target, text);
        process.stdout.write(`wrote contracts/${name}.json (solc ${solc.version()})\n`);
      }
    }
  }
  process.exit(stale ? 1 : 0);
}

main();
