// test/board/click.js -- drive the board's page in headless Chromium through
// the DevTools protocol (chrome-remote-interface), as a person would: open
// the page with #token=..., wait for it to draw, click buttons, accept the
// confirm() dialogs, and wait for each click to show on the page.
//
//   node click.js DEVTOOLS_PORT URL SCREENSHOT STEP...
//
// STEP is SELECTOR=>CONDITION: click the first element matching SELECTOR,
// then wait (10 s at most) until the JavaScript expression CONDITION is
// true.  Prints one line per step ("ok STEP" or "timeout STEP"), saves a
// PNG screenshot at the end, and exits non-zero when a step failed.
'use strict';
const CDP = require('chrome-remote-interface');
const fs = require('fs');

const [port, url, shot, ...steps] = process.argv.slice(2);

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function until(Runtime, expr, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const r = await Runtime.evaluate({ expression: '!!(' + expr + ')', returnByValue: true });
    if (r.result && r.result.value === true) return true;
    await sleep(100);
  }
  return false;
}

(async () => {
  let failed = 0;
  const client = await CDP({ port: Number(port) });
  const { Page, Runtime } = client;
  try {
    await Page.enable();
    await Runtime.enable();
    Page.javascriptDialogOpening(() => Page.handleJavaScriptDialog({ accept: true }));
    await Page.navigate({ url });
    if (!(await until(Runtime, "document.querySelector('#updated[data-loaded]')", 15000))) {
      console.log('timeout loading the page');
      process.exitCode = 1;
      return;
    }
    console.log('ok loaded');
    for (const step of steps) {
      const [sel, cond] = step.split('=>');
      const r = await Runtime.evaluate({
        expression: '(function(){var e=document.querySelector(' + JSON.stringify(sel) + ');' +
          'if(!e)return false;e.click();return true;})()',
        returnByValue: true
      });
      if (!r.result.value) {
        console.log('missing ' + sel);
        failed++;
        continue;
      }
      if (await until(Runtime, cond, 10000)) {
        console.log('ok ' + sel);
      } else {
        console.log('timeout ' + step);
        failed++;
      }
    }
    const png = await Page.captureScreenshot({ format: 'png', captureBeyondViewport: true });
    fs.writeFileSync(shot, Buffer.from(png.data, 'base64'));
  } finally {
    await client.close();
  }
  if (failed) process.exitCode = 1;
})().catch((e) => {
  console.log('error ' + (e && e.message ? e.message : e));
  process.exit(1);
});
