// Drives Chromium over the demo and XSS-probe sites, each served by
// `speclog site serve` on 127.0.0.1. Usage: node browser.mjs SPECLOG_BIN OUT_DIR
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { chromium } from "playwright-core";

const [bin, out] = process.argv.slice(2);
const shots = join(out, "screenshots");
mkdirSync(shots, { recursive: true });
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  if (ok) passed++;
  else {
    failed++;
    console.error(`FAIL: ${what}`);
  }
};

// Starts `speclog site serve --port 0` and resolves with its base URL.
function serve(dir) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ["site", "serve", "--port", "0", "--out", dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    p.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) resolve({ url: m[0], proc: p });
    });
    p.on("exit", (c) => reject(new Error(`serve exited ${c}`)));
    setTimeout(() => reject(new Error("serve did not start")), 10000);
  });
}

function htmlPages(dir) {
  const all = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f === "index.html") all.push(relative(dir, d).split("\\").join("/"));
    }
  };
  walk(dir);
  return all.sort().map((p) => (p ? `${p}/` : ""));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});

// A fresh page that records console errors, page errors, dialogs (alert() from a
// probe), failed responses and any request that leaves the site.
async function newPage(ctx, base) {
  const page = await ctx.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("dialog", async (d) => {
    problems.push(`DIALOG (injected script ran): ${d.message()}`);
    await d.dismiss();
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  await page.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(base)) return route.continue();
    problems.push(`request left the site: ${u}`);
    return route.abort();
  });
  await page.addInitScript(() => {
    window.__xss = 0;
  });
  return { page, problems };
}

async function visit(ctx, base, path, opts = {}) {
  const { page, problems } = await newPage(ctx, base);
  const res = await page.goto(base + path, { waitUntil: "load" });
  check(res && res.status() === (opts.status || 200), `${path}: HTTP ${res && res.status()}`);
  for (const t of opts.text || []) {
    const ok = await page.getByText(t, { exact: false }).first().isVisible().catch(() => false);
    check(ok, `${path}: "${t}" not visible`);
  }
  if (opts.shot) {
    await page.screenshot({ path: join(shots, `${opts.shot}.png`), fullPage: opts.full !== false });
  }
  const xss = await page.evaluate(() => window.__xss);
  check(xss === 0, `${path}: injected script ran`);
  // Inline scripts are absent, so the CSP never needs to block one.
  const scripts = await page.locator("script").count();
  check(scripts === 0, `${path}: ${scripts} script elements`);
  await page.close();
  // An expected error status is not a problem.
  const real = problems.filter((p) => !(opts.status >= 400 && (p.startsWith(`HTTP ${opts.status}`) || p.includes(`status of ${opts.status}`))));
  check(real.length === 0, `${path}: ${real.join("; ")}`);
  return real;
}

const started = Date.now();
const demo = await serve(join(out, "demo", "site"));
const probe = await serve(join(out, "probe", "site"));
const huge = await serve(join(out, "huge", "site"));
try {
  // Demo: the pages a reader lands on, on a desktop, a phone and in dark mode.
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const demoPages = htmlPages(join(out, "demo", "site"));
  const rev = demoPages.find((p) => /^versions\/[^/]+\/r2\/$/.test(p)) || "versions/";
  const diff = demoPages.find((p) => /^versions\/[^/]+\/r2\/diff\/$/.test(p)) ||
    demoPages.find((p) => p.endsWith("/diff/"));
  await visit(desktop, demo.url, "", {
    shot: "home",
    text: ["Current version", "Signed checkpoint", "What changed in the current version", "Open incidents", "Latest evaluations"],
  });
  await visit(desktop, demo.url, rev, { shot: "version", full: false, text: ["This is a re-release", "Contents"] });
  await visit(desktop, demo.url, diff, { shot: "diff", text: ["Changed text", "Clause-level diff"] });
  await visit(desktop, demo.url, "incidents/INC-1/", { shot: "incident", text: ["Timeline", "resolved", "Fixed by"] });
  await visit(desktop, demo.url, "incidents/INC-2/", { shot: "incident-confidential", text: ["Details withheld"] });
  await visit(desktop, demo.url, "evaluations/EVAL-1/", { shot: "evaluation", text: ["Outcomes", "Results file"] });
  await visit(desktop, demo.url, "evaluations/", { shot: "evaluations", text: ["Metrics across spec versions"] });
  await visit(desktop, demo.url, "clauses/be_rationally_optimistic/", { shot: "clause", text: ["Text through every version"] });
  await visit(desktop, demo.url, "entries/", { shot: "log", full: false, text: ["Log"] });
  await visit(desktop, demo.url, "entries/3/", { shot: "entry", text: ["Inclusion proof", "Signed fields"] });
  await visit(desktop, demo.url, "verify/", { shot: "verify", text: ["speclog verify --site"] });
  await visit(desktop, demo.url, "keys/", { text: ["Signing keys"] });
  await visit(desktop, demo.url, "no/such/page/", { status: 404, text: ["Page not found"] });
  // Every other demo page loads without errors.
  for (const p of demoPages) await visit(desktop, demo.url, p);
  await desktop.close();

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
  await visit(phone, demo.url, "", { shot: "home-phone", full: false, text: ["Current version"] });
  await visit(phone, demo.url, diff, { shot: "diff-phone", full: false });
  // Nothing wider than the screen.
  {
    const { page } = await newPage(phone, demo.url);
    for (const p of ["", rev, diff, "incidents/INC-1/", "evaluations/"]) {
      await page.goto(demo.url + p);
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      check(w <= 390, `${p}: page is ${w}px wide on a 390px phone`);
    }
    await page.close();
  }
  await phone.close();

  const dark = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" });
  await visit(dark, demo.url, "", { shot: "home-dark", full: false });
  await visit(dark, demo.url, diff, { shot: "diff-dark", full: false });
  await dark.close();

  // Print layout: navigation hidden.
  {
    const ctx = await browser.newContext();
    const { page } = await newPage(ctx, demo.url);
    await page.goto(demo.url + "incidents/INC-1/");
    await page.emulateMedia({ media: "print" });
    check(!(await page.locator(".site-nav").isVisible()), "print: navigation still shown");
    await page.pdf({ path: join(shots, "incident-print.pdf") });
    await ctx.close();
  }

  // Accessibility: axe-core (WCAG 2.1 A and AA rules, colour contrast included) on
  // the main pages, light and dark. axe is injected by the test (CSP bypassed for
  // that alone); the site itself has no script.
  {
    const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
    const axePages = ["", "versions/", rev, diff, "clauses/", "clauses/be_rationally_optimistic/",
      "evaluations/", "evaluations/EVAL-1/", "incidents/", "incidents/INC-1/", "incidents/INC-2/",
      "entries/", "entries/3/", "keys/", "verify/"];
    let checked = 0;
    for (const scheme of ["light", "dark"]) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: scheme, bypassCSP: true });
      const page = await ctx.newPage();
      for (const p of axePages) {
        await page.goto(demo.url + p);
        await page.addScriptTag({ content: axeSource });
        const res = await page.evaluate(async () =>
          await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
        const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical" || v.impact === "moderate");
        check(bad.length === 0, `axe ${scheme} ${p}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`).join("; ")}`);
        checked++;
      }
      await ctx.close();
    }
    console.log(`axe-core: ${checked} page checks (WCAG 2.1 AA, light and dark)`);
  }

  // Probe site: every page, no script runs, nothing loads from elsewhere.
  const probeCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const probePages = htmlPages(join(out, "probe", "site"));
  for (const p of probePages) await visit(probeCtx, probe.url, p);
  await visit(probeCtx, probe.url, "versions/probe-1.0/", { shot: "probe-version", full: false, text: ["alert(\"block\")"] });
  await visit(probeCtx, probe.url, "incidents/INC-1/", { shot: "probe-incident", full: false, text: ["<script>alert('title')</script>"] });
  await probeCtx.close();

  // Huge site (a 10 MB spec on one line, released twice): every page loads
  // within a few seconds, and the diff shows the change 5 MB into the line.
  const hugeCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const hugePages = htmlPages(join(out, "huge", "site"));
  let slowest = [0, ""];
  for (const p of hugePages) {
    const t0 = Date.now();
    await visit(hugeCtx, huge.url, p);
    const ms = Date.now() - t0;
    if (ms > slowest[0]) slowest = [ms, p];
    check(ms < 5000, `huge ${p}: took ${ms} ms to load (limit 5000)`);
  }
  await visit(hugeCtx, huge.url, "versions/huge-2/diff/", { shot: "huge-diff", full: false, text: ["SENTINELWORD"] });
  await visit(hugeCtx, huge.url, "versions/huge-1/", { text: ["Truncated:"] });
  await hugeCtx.close();
  console.log(`huge: ${hugePages.length} pages, slowest ${slowest[1]} in ${slowest[0]} ms`);
  console.log(`browser: ${demoPages.length} demo pages and ${probePages.length} probe pages in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${shots}`);
} finally {
  demo.proc.kill();
  probe.proc.kill();
  huge.proc.kill();
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
