#!/usr/bin/env node
// A dApp's view of the node through ethers v6: JsonRpcProvider + a locally signing Wallet.
//
// Usage: node tests/e2e/ethers_client.mjs <rpcUrl> <TestToken artifact.json> <devAccountIndex>
//
// Deploys TestToken, transfers, queries a Transfer filter, catches reverts (reason string,
// custom error, a reverted mined tx) and prints one JSON summary on stdout for test_ethers.py
// to assert on. Any unexpected failure exits non-zero with the error on stderr. ethers batches
// concurrent requests into JSON arrays by default, so this also exercises batch requests.

import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { ethers } = require("ethers");

const MNEMONIC = "test test test test test test test test test test test junk";

async function main() {
  const [rpcUrl, artifactPath, indexArg] = process.argv.slice(2);
  if (!rpcUrl || !artifactPath) {
    console.error("usage: node ethers_client.mjs <rpcUrl> <artifact.json> [accountIndex]");
    process.exit(2);
  }
  const index = Number(indexArg ?? "2");
  const artifact = JSON.parse(fs.readFileSync(artifactPath, "utf8"));

  // Instant blocks: poll receipts every 100 ms instead of 4 s, and do not let ethers' 250 ms
  // request cache hand back a stale "pending" nonce to back-to-back transactions.
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, {
    pollingInterval: 100,
    cacheTimeout: -1,
  });
  const network = await provider.getNetwork();
  const wallet = ethers.HDNodeWallet.fromPhrase(
    MNEMONIC,
    undefined,
    `m/44'/60'/0'/0/${index}`,
  ).connect(provider);
  const recipient = ethers.Wallet.createRandom().address;

  // Deploy.
  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
  const token = await factory.deploy();
  const deployTx = token.deploymentTransaction();
  await token.waitForDeployment();
  const deployReceipt = await deployTx.wait();
  const tokenAddress = await token.getAddress();

  // Transfer, then read balances at the same block.
  const amount = ethers.parseEther("12.5");
  const transferTx = await token.transfer(recipient, amount);
  const transferReceipt = await transferTx.wait();
  const parsedLogs = transferReceipt.logs.map((log) => token.interface.parseLog(log));

  // eth_getLogs through a typed filter (indexed `from` = wallet).
  const filter = token.filters.Transfer(wallet.address);
  const events = await token.queryFilter(filter, deployReceipt.blockNumber, "latest");

  // Revert with a reason string, seen from eth_call.
  let revert = null;
  try {
    await token.failWithReason.staticCall();
  } catch (err) {
    revert = { code: err.code, reason: err.reason ?? null, shortMessage: err.shortMessage };
  }

  // Revert with a custom error, decoded by ethers against the ABI.
  let customError = null;
  try {
    await token.failWithCustomError.staticCall(7n);
  } catch (err) {
    customError = {
      code: err.code,
      name: err.revert?.name ?? null,
      args: err.revert ? err.revert.args.map((a) => a.toString()) : null,
      data: err.data ?? null,
    };
  }

  // A reverting transaction that is mined anyway (explicit gas limit skips estimation).
  let minedRevert = null;
  const failing = await token.failWithReason({ gasLimit: 100_000n });
  try {
    await failing.wait();
  } catch (err) {
    minedRevert = {
      code: err.code,
      status: err.receipt?.status ?? null,
      gasUsed: err.receipt?.gasUsed?.toString() ?? null,
    };
  }

  const summary = await token.summary(recipient);
  const block = await provider.getBlock(transferReceipt.blockNumber);

  const result = {
    chainId: network.chainId.toString(),
    account: wallet.address,
    recipient,
    token: tokenAddress,
    deploy: {
      hash: deployTx.hash,
      status: deployReceipt.status,
      contractAddress: deployReceipt.contractAddress,
      type: deployReceipt.type,
    },
    transfer: {
      hash: transferTx.hash,
      status: transferReceipt.status,
      blockNumber: transferReceipt.blockNumber,
      gasUsed: transferReceipt.gasUsed.toString(),
      logs: parsedLogs.map((p) => ({
        name: p.name,
        from: p.args[0],
        to: p.args[1],
        value: p.args[2].toString(),
      })),
    },
    balances: {
      recipient: (await token.balanceOf(recipient)).toString(),
      account: (await token.balanceOf(wallet.address)).toString(),
      totalSupply: (await token.totalSupply()).toString(),
    },
    events: events.map((e) => ({
      name: e.fragment?.name ?? null,
      from: e.args[0],
      to: e.args[1],
      value: e.args[2].toString(),
      transactionHash: e.transactionHash,
      blockNumber: e.blockNumber,
    })),
    revert,
    customError,
    minedRevert,
    view: summary.map((v) => v.toString()),
    block: {
      number: block.number,
      hash: block.hash,
      transactions: block.transactions,
      baseFeePerGas: block.baseFeePerGas?.toString() ?? null,
    },
  };
  process.stdout.write(JSON.stringify(result) + "\n");
  provider.destroy();
}

main().catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
