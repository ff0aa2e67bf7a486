// Rebuild MockAggregatorV3.json from MockAggregatorV3.sol with solc-js (offline):
//   npm install --no-save solc@0.8.37 && node tests/fakes/chainlink/compile.js
// The artefact is committed, so the tests need neither node nor npm.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const source = path.join(__dirname, "MockAggregatorV3.sol");
const input = {
  language: "Solidity",
  sources: { "MockAggregatorV3.sol": { content: fs.readFileSync(source, "utf8") } },
  settings: {
    // py-evm (eth-tester) runs Cancun; do not emit newer opcodes.
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const contract = output.contracts["MockAggregatorV3.sol"].MockAggregatorV3;
const artefact = {
  contractName: "MockAggregatorV3",
  compiler: `solc-js ${solc.version()}`,
  evmVersion: input.settings.evmVersion,
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
};
fs.writeFileSync(path.join(__dirname, "MockAggregatorV3.json"), JSON.stringify(artefact, null, 2) + "\n");
console.log(`wrote MockAggregatorV3.json (${artefact.compiler})`);
