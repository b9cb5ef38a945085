import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface RenderedChart {
  /** Each dataset's label and number of points. */
  datasets: Array<readonly [string, number]>;
  /** Pixels drawn on the canvas: axes, labels and lines really rendered. */
  inked: number;
}

/**
 * Opens a report page (demo/src/report/html-page.ts) in headless Chromium, waits until it says it rendered, and
 * reads back what each chart drew. `screenshot`: also saves a full-page PNG there.
 */
export async function renderReport(
  htmlPath: string,
  screenshot?: string,
): Promise<{ errors: string[]; charts: RenderedChart[] }> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${htmlPath}`);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    const charts = await page.evaluate(() => {
      const w = window as unknown as {
        kvflowCharts: Array<{
          data: { datasets: Array<{ label: string; data: unknown[] }> };
          canvas: HTMLCanvasElement;
        }>;
      };
      return w.kvflowCharts.map((c) => {
        const ctx = c.canvas.getContext('2d') as CanvasRenderingContext2D;
        const pixels = ctx.getImageData(0, 0, c.canvas.width, c.canvas.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] as number) > 0) inked++;
        return { datasets: c.data.datasets.map((d) => [d.label, d.data.length] as const), inked };
      });
    });
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    return { errors, charts };
  } finally {
    await browser.close();
  }
}
