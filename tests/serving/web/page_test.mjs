#!/usr/bin/env node
// The ModelFactory page in headless Chromium, driven like a user would: Debian's chromium through
// playwright-core (no downloaded browsers), a wallet shim that signs with ethers, one JSON report.
//
// Usage: node tests/serving/web/page_test.mjs <config.json>
// config: {url, rpcUrl, apiKey, walletIndex, chatModel, rewardsAddress, datanetId, screenshots}
//
// Prints one JSON object on stdout for test_page.py to assert on; any failure exits non-zero
// with the error (and the page's console) on stderr, after a screenshot of where it stopped.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const { ethers } = require("ethers");

const MNEMONIC = "test test test test test test test test test test test junk";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Without the background-networking flags, Chromium's own connections (updates, sync, QUIC
// probes) fail on a closed network and it refuses the page's connections along with them.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const JOB_TIMEOUT_MS = 240_000;
const REWARDS_TIMEOUT_MS = 60_000;

// A browser wallet (EIP-1193 `request`) whose every call runs here, in Node, through ethers.
async function installWallet(page, rpcUrl, index) {
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  const wallet = ethers.HDNodeWallet.fromPhrase(
    MNEMONIC,
    undefined,
    `m/44'/60'/0'/0/${index}`,
  ).connect(provider);
  const calls = [];
  await page.exposeFunction("__walletRequest", async (method, params) => {
    calls.push(method);
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [wallet.address];
      case "eth_sendTransaction": {
        const [tx] = params;
        const sent = await wallet.sendTransaction({
          to: tx.to,
          data: tx.data,
          value: BigInt(tx.value ?? "0x0"),
        });
        return sent.hash;
      }
      default:
        return provider.send(method, params);
    }
  });
  await page.addInitScript(() => {
    window.ethereum = {
      isShim: true,
      request: ({ method, params }) => window.__walletRequest(method, params ?? []),
    };
  });
  return { address: wallet.address, calls };
}

function screenshotter(page, directory) {
  fs.mkdirSync(directory, { recursive: true });
  const taken = [];
  const shot = async (name) => {
    const file = path.join(directory, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    taken.push(file);
  };
  return { shot, taken };
}

const text = (page, selector) => page.locator(selector).textContent();

async function datanets(page, config, report) {
  const rows = page.locator("#datanet-list tbody tr");
  await rows.first().waitFor();
  report.datanets = { listed: await rows.count() };
  await page.locator(`#datanet-list tbody tr[data-id="${config.datanetId}"]`).click();
  const contributions = page.locator("#contribution-list tbody tr");
  await contributions.first().waitFor();
  report.datanets.contributions_before = await contributions.count();
  report.datanets.versions = await page.locator("#version-list tbody tr").count();

  const content = Buffer.from(`A contribution from the web page test, ${Date.now()}.\n`);
  await page.locator("#upload-file").setInputFiles({
    name: "contribution.txt",
    mimeType: "text/plain",
    buffer: content,
  });
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator("#upload-result").waitFor();
  report.upload = {
    expected_sha256: crypto.createHash("sha256").update(content).digest("hex"),
    shown_sha256: await text(page, "#upload-sha256"),
    bytes: Number(await text(page, "#upload-bytes")),
  };
  await page.getByRole("button", { name: "Register on chain" }).click();
  await page.locator("#register-status", { hasText: "Registered in block" }).waitFor();
  await page.waitForFunction(
    (count) => document.querySelectorAll("#contribution-list tbody tr").length > count,
    report.datanets.contributions_before,
  );
  report.upload.register_status = await text(page, "#register-status");
  report.datanets.contributions_after = await contributions.count();
  report.datanets.last_contribution = await contributions.last().locator("td").allTextContents();
}

// Without a browser wallet the page shows the command line that registers the upload instead.
async function withoutWallet(browser, config, report) {
  const page = await browser.newPage();
  try {
    await page.goto(config.url);
    await page.locator(`#datanet-list tbody tr[data-id="${config.datanetId}"]`).click();
    const content = Buffer.from(`Registered from the command line, ${Date.now()}.\n`);
    await page.locator("#upload-file").setInputFiles({
      name: "cli.txt",
      mimeType: "text/plain",
      buffer: content,
    });
    await page.getByRole("button", { name: "Upload" }).click();
    await page.locator("#upload-result").waitFor();
    await page.getByRole("button", { name: "Register on chain" }).click();
    await page.locator("#register-command").waitFor();
    report.without_wallet = {
      sha256: crypto.createHash("sha256").update(content).digest("hex"),
      bytes: content.length,
      command: await text(page, "#register-command"),
    };
  } finally {
    await page.close();
  }
}

async function fineTune(page, config, report) {
  await page.getByRole("tab", { name: "Fine-tune" }).click();
  await page.locator("#job-model option").first().waitFor({ state: "attached" });
  await page.locator("#job-file").fill(`datanet:${config.datanetId}@latest`);
  // 60 steps of a tiny model: seconds, long enough for the chart to grow while it runs.
  await page.locator("#job-epochs").fill("60");
  await page.locator("#job-lr").fill("10");
  await page.locator("#job-rank").fill("4");
  await page.locator("#job-batch").fill("2");
  await page.getByRole("button", { name: "Start fine-tune" }).click();
  await page.locator("#job-id", { hasText: "ftjob" }).waitFor();
  // Sample the chart while the job runs: points must appear before it ends, not only after.
  const samples = [];
  const deadline = Date.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const status = await text(page, "#job-status");
    const points = Number(await page.locator("#loss-chart").getAttribute("data-points"));
    samples.push({ status, points });
    if (["succeeded", "failed", "cancelled"].includes(status)) break;
    if (Date.now() > deadline) throw new Error(`fine-tune still ${status} after the timeout`);
    await page.waitForTimeout(250);
  }
  await page.waitForFunction(() => document.querySelector("#job-model-out").textContent !== "");
  const outcome = await text(page, "#job-model-out");
  if (samples[samples.length - 1].status !== "succeeded") {
    throw new Error(`fine-tune ${samples[samples.length - 1].status}: ${outcome}`);
  }
  report.fine_tune = {
    job_id: await text(page, "#job-id"),
    status: samples[samples.length - 1].status,
    model: outcome,
    points: Number(await page.locator("#loss-chart").getAttribute("data-points")),
    eval_points: Number(await page.locator("#loss-chart").getAttribute("data-eval-points")),
    points_while_running: Math.max(
      0,
      ...samples.filter((s) => s.status === "running").map((s) => s.points),
    ),
    polyline: (await page.locator("#loss-chart polyline.train").getAttribute("points")) ?? "",
    events: await page.locator("#job-events li").count(),
    samples: samples.length,
  };
}

async function chat(page, config, report) {
  await page.getByRole("tab", { name: "Chat" }).click();
  await page.locator("#chat-model").selectOption(config.chatModel);
  // Count every change of the answer's text: a streamed answer changes many times.
  await page.evaluate(() => {
    window.__answerUpdates = 0;
    new MutationObserver(() => window.__answerUpdates++).observe(
      document.querySelector("#chat-log"),
      { subtree: true, childList: true, characterData: true },
    );
  });
  await page.locator("#chat-input").fill("Tell me about the ledger.");
  await page.locator("#chat-max").fill("24");
  await page.getByRole("button", { name: "Send" }).click();
  const answer = page.locator(".message.assistant").last();
  await answer.waitFor();
  await page.waitForFunction(() => {
    const last = [...document.querySelectorAll(".message.assistant")].pop();
    return last && !last.classList.contains("streaming");
  });
  report.chat = {
    model: config.chatModel,
    answer: await answer.textContent(),
    updates: await page.evaluate(() => window.__answerUpdates),
  };
  // The paid answer's attribution, once its settlement (a batch, within seconds) shows.
  const deadline = Date.now() + REWARDS_TIMEOUT_MS;
  let summary = "";
  while (!summary.includes("settled in 0x") && Date.now() < deadline) {
    await page.locator(".attribution button").last().click();
    await page.locator(".attribution p").last().waitFor();
    summary = await page.locator(".attribution p").last().textContent();
    if (!summary.includes("settled in 0x")) await page.waitForTimeout(1000);
  }
  report.attribution = {
    summary,
    rows: await page.locator(".attribution tbody tr").evaluateAll((rows) =>
      rows.map((row) => [...row.cells].map((cell) => cell.textContent)),
    ),
  };
}

async function rewards(page, config, report) {
  await page.getByRole("tab", { name: "Rewards" }).click();
  await page.locator("#rewards-address").fill(config.rewardsAddress);
  // The chat's payment is settled in a batch within seconds; ask again until it shows.
  const deadline = Date.now() + REWARDS_TIMEOUT_MS;
  let claimable = "0";
  while (claimable === "0" && Date.now() < deadline) {
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator("#rewards-result").waitFor();
    await page.waitForTimeout(1000);
    claimable = await text(page, "#rewards-claimable");
  }
  report.rewards = {
    address: config.rewardsAddress,
    claimable,
    earnings: await page.locator("#rewards-datanets tbody tr").evaluateAll((rows) =>
      rows.map((row) => [...row.cells].map((cell) => cell.textContent)),
    ),
    contributions: await text(page, "#rewards-contributions"),
  };
}

async function main() {
  const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const consoleLines = [];
  page.on("console", (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));
  page.setDefaultTimeout(30_000);
  const { shot, taken } = screenshotter(page, config.screenshots);
  const report = {};
  try {
    const wallet = await installWallet(page, config.rpcUrl, config.walletIndex);
    await page.goto(config.url);
    report.title = await page.title();
    await page.locator("#api-key").fill(config.apiKey);
    await page.locator("#api-key").dispatchEvent("change");
    await datanets(page, config, report);
    report.wallet = wallet;
    await shot("datanets");
    await withoutWallet(browser, config, report);
    await fineTune(page, config, report);
    await shot("fine-tune");
    await chat(page, config, report);
    await shot("chat");
    await rewards(page, config, report);
    await shot("rewards");
    report.error_shown = (await page.locator("#error").isVisible())
      ? await text(page, "#error")
      : null;
    report.stored_api_key = await page.evaluate(() => localStorage.getItem("openledger.apiKey"));
    report.screenshots = taken;
    report.console = consoleLines;
    process.stdout.write(JSON.stringify(report) + "\n");
  } catch (error) {
    await shot("failure").catch(() => {});
    const shown = await page.locator("#error").textContent().catch(() => "");
    console.error(error.stack ?? String(error));
    console.error(`error shown on the page: ${shown}`);
    console.error(`report so far: ${JSON.stringify(report)}`);
    console.error(`page console:\n${consoleLines.join("\n")}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
