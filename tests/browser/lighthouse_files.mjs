// One Lighthouse run on the web app's files page, for tests/browser/test_quality.py.
//
// Lighthouse drives the system Chromium (CHROME_PATH) through puppeteer-core: the script logs in on
// the page first, as a person does, then Lighthouse loads the files page in that same tab with
// storage kept (a fresh profile would only ever measure the login page).
//
// Input (environment): DOCSTORE_NODE_MODULES (where bootstrap installed lighthouse), CHROME_PATH,
// LH_BASE (the gateway), LH_USERNAME, LH_PASSWORD, LH_REPORT (where the JSON report goes), and
// optionally LH_CPU_SLOWDOWN: the CPU slowdown multiplier (Lighthouse's default, 4, assumes a host
// with a benchmark index of about 1500; test_quality.py calibrates it for a slower or busy host).
// Output (stdout, one JSON line): {scores: {category: 0..100}, failing: {category: [{id, title, score,
// displayValue}]}, benchmark_index, main_thread_ms, ...}.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.DOCSTORE_NODE_MODULES;
const load = async (file) => (await import(pathToFileURL(path.join(modules, file)).href)).default;
const lighthouse = await load("lighthouse/core/index.js");
const { throttling } = await import(pathToFileURL(path.join(modules, "lighthouse/core/config/constants.js")).href);
const puppeteer = await load("puppeteer-core/lib/esm/puppeteer/puppeteer-core.js");

const base = process.env.LH_BASE;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/#/login`);
  await page.waitForSelector("input[name=username]", { visible: true, timeout: 60000 });
  await page.type("input[name=username]", process.env.LH_USERNAME);
  await page.type("input[name=password]", process.env.LH_PASSWORD);
  await page.click("#main button[type=submit]");
  await page.waitForFunction(
    (name) => (document.getElementById("who-name")?.textContent || "").includes(name),
    { timeout: 60000 }, process.env.LH_USERNAME);
  // Another document URL (not only another #route), so Lighthouse measures a full page load.
  const result = await lighthouse(`${base}/?lighthouse=1#/files`, {
    output: "json",
    logLevel: "error",
    onlyCategories: ["accessibility", "performance"],
    disableStorageReset: true,
    ...(process.env.LH_CPU_SLOWDOWN
      ? { throttling: { ...throttling.mobileSlow4G, cpuSlowdownMultiplier: Number(process.env.LH_CPU_SLOWDOWN) } }
      : {}),
  }, undefined, page);
  const lhr = result.lhr;
  writeFileSync(process.env.LH_REPORT, result.report);
  const scores = {};
  const failing = {};
  for (const [id, category] of Object.entries(lhr.categories)) {
    scores[id] = category.score === null ? null : Math.round(category.score * 100);
    failing[id] = category.auditRefs
      .map((ref) => lhr.audits[ref.id])
      .filter((audit) => audit.score !== null && audit.score < 0.9 && audit.scoreDisplayMode !== "informative"
        && audit.scoreDisplayMode !== "notApplicable" && audit.scoreDisplayMode !== "manual")
      .map((audit) => ({ id: audit.id, title: audit.title, score: audit.score, displayValue: audit.displayValue || "" }));
  }
  const runtimeError = lhr.runtimeError ? lhr.runtimeError.message : null;
  console.log(JSON.stringify({
    final_url: lhr.finalDisplayedUrl, scores, failing, runtime_error: runtimeError,
    // The host's speed as Lighthouse measured it (its 4x CPU slowdown assumes 1500-2000) and the main
    // thread's busy time: a low score with a slow or busy host says the machine, not the page, was slow.
    benchmark_index: lhr.environment.benchmarkIndex,
    main_thread_ms: Math.round(lhr.audits["mainthread-work-breakdown"]?.numericValue ?? -1),
    cpu_slowdown: lhr.configSettings.throttling.cpuSlowdownMultiplier,
  }));
} finally {
  await browser.close();
}
