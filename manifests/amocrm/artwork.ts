// The widget's images, drawn at build time (no binary files in the repository): the logo in every
// size amoCRM asks for (doc amocrm.md §1.1) and the tour pictures. Shapes are filled with 4x4
// supersampling for smooth edges; scripts/png-writer.ts turns the pixels into PNG.

export type Rgb = readonly [number, number, number];

export const BRAND: Rgb = [14, 124, 102];
const BRAND_LIGHT: Rgb = [22, 163, 127];
const WHITE: Rgb = [255, 255, 255];

const SS = 4;

/** A shape: is the point (x, y) inside? Plus a bounding box to limit the work. */
interface Shape {
  inside(x: number, y: number): boolean;
  box: [number, number, number, number];
}

export class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb | ((x: number, y: number) => Rgb),
  ) {
    this.data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const c = typeof background === "function" ? background(x, y) : background;
        this.data.set(c, (y * width + x) * 3);
      }
    }
  }

  fill(shape: Shape, color: Rgb, opacity = 1): this {
    const [x0, y0, x1, y1] = shape.box;
    const xs = Math.max(0, Math.floor(x0));
    const ys = Math.max(0, Math.floor(y0));
    const xe = Math.min(this.width, Math.ceil(x1));
    const ye = Math.min(this.height, Math.ceil(y1));
    for (let y = ys; y < ye; y++) {
      for (let x = xs; x < xe; x++) {
        let hits = 0;
        for (let sy = 0; sy < SS; sy++) {
          for (let sx = 0; sx < SS; sx++) if (shape.inside(x + (sx + 0.5) / SS, y + (sy + 0.5) / SS)) hits++;
        }
        if (!hits) continue;
        const a = (hits / (SS * SS)) * opacity;
        const i = (y * this.width + x) * 3;
        for (let k = 0; k < 3; k++) this.data[i + k] = Math.round(this.data[i + k]! * (1 - a) + color[k]! * a);
      }
    }
    return this;
  }

  rect(x: number, y: number, w: number, h: number, r: number, color: Rgb, opacity = 1): this {
    return this.fill(roundRect(x, y, w, h, r), color, opacity);
  }

  circle(cx: number, cy: number, r: number, color: Rgb, opacity = 1): this {
    return this.fill({ inside: (px, py) => (px - cx) ** 2 + (py - cy) ** 2 <= r * r, box: [cx - r, cy - r, cx + r, cy + r] }, color, opacity);
  }

  /** A line with round caps. */
  line(x1: number, y1: number, x2: number, y2: number, width: number, color: Rgb, opacity = 1): this {
    const r = width / 2;
    const dx = x2 - x1;
    const dy = y2 - y1;
    const len2 = dx * dx + dy * dy || 1;
    return this.fill(
      {
        inside: (px, py) => {
          const t = Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / len2));
          return (px - x1 - t * dx) ** 2 + (py - y1 - t * dy) ** 2 <= r * r;
        },
        box: [Math.min(x1, x2) - r, Math.min(y1, y2) - r, Math.max(x1, x2) + r, Math.max(y1, y2) + r],
      },
      color,
      opacity,
    );
  }

  polygon(points: readonly (readonly [number, number])[], color: Rgb, opacity = 1): this {
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    return this.fill(
      {
        inside: (px, py) => {
          let inside = false;
          for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
            const [xi, yi] = points[i]!;
            const [xj, yj] = points[j]!;
            if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
          }
          return inside;
        },
        box: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
      },
      color,
      opacity,
    );
  }
}

function roundRect(x: number, y: number, w: number, h: number, r: number): Shape {
  const rr = Math.min(r, w / 2, h / 2);
  return {
    inside: (px, py) => {
      if (px < x || py < y || px > x + w || py > y + h) return false;
      const cx = Math.min(Math.max(px, x + rr), x + w - rr);
      const cy = Math.min(Math.max(py, y + rr), y + h - rr);
      return (px - cx) ** 2 + (py - cy) ** 2 <= rr * rr;
    },
    box: [x, y, x + w, y + h],
  };
}

const mix = (a: Rgb, b: Rgb, t: number): Rgb => [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * t)) as unknown as Rgb;

/** The mark: a speech bubble holding a branching line (one number, many branches), size `s` around (cx, cy). */
export function drawMark(c: Canvas, cx: number, cy: number, s: number, bubble: Rgb = WHITE, ink: Rgb = BRAND): void {
  c.circle(cx, cy - 0.02 * s, 0.4 * s, bubble);
  c.polygon(
    [
      [cx - 0.33 * s, cy + 0.1 * s],
      [cx - 0.1 * s, cy + 0.33 * s],
      [cx - 0.44 * s, cy + 0.44 * s],
    ],
    bubble,
  );
  const stemX = cx - 0.11 * s;
  const w = 0.075 * s;
  c.line(stemX, cy + 0.19 * s, stemX, cy - 0.21 * s, w, ink);
  c.line(stemX, cy + 0.03 * s, cx + 0.14 * s, cy - 0.12 * s, w, ink);
  c.circle(stemX, cy + 0.2 * s, 0.075 * s, ink);
  c.circle(stemX, cy - 0.22 * s, 0.075 * s, ink);
  c.circle(cx + 0.15 * s, cy - 0.13 * s, 0.075 * s, ink);
}

/** The logo at any size: brand gradient, the mark; wide formats add two bars standing for a wordmark. */
export function drawLogo(width: number, height: number): Canvas {
  const c = new Canvas(width, height, (x, y) => mix(BRAND, BRAND_LIGHT, (x / width + y / height) / 2));
  if (width / height >= 1.8) {
    const s = height * 0.78;
    const cx = height * 0.58;
    drawMark(c, cx, height / 2, s);
    const left = cx + s * 0.6;
    const room = width - left - height * 0.3;
    c.rect(left, height * 0.36, room, height * 0.14, height * 0.07, WHITE);
    c.rect(left, height * 0.56, room * 0.62, height * 0.1, height * 0.05, WHITE, 0.7);
  } else {
    drawMark(c, width / 2, height / 2, Math.min(width, height) * 0.8);
  }
  return c;
}

const PAGE: Rgb = [244, 246, 248];
const GREY: Rgb = [215, 221, 227];
const DARK: Rgb = [41, 58, 75];

/** Tour 1: an amoCRM lead card with the panel in the right column. */
export function drawTourPanel(width = 800, height = 500): Canvas {
  const c = new Canvas(width, height, PAGE);
  c.rect(0, 0, 56, height, 0, DARK);
  for (let i = 0; i < 6; i++) c.rect(16, 24 + i * 44, 24, 24, 6, [90, 108, 126]);
  // Card feed: lead header and a chat.
  c.rect(76, 20, 430, 60, 6, WHITE);
  c.rect(92, 36, 180, 12, 6, [120, 132, 145]);
  c.rect(92, 56, 120, 10, 5, GREY);
  c.rect(76, 96, 430, 384, 6, WHITE);
  const bubbles: [number, number, boolean][] = [
    [120, 200, false],
    [170, 150, true],
    [240, 230, false],
    [310, 170, true],
    [380, 210, false],
  ];
  for (const [y, w, out] of bubbles) {
    const x = out ? 490 - w : 92;
    c.rect(x, y, w, 44, 8, out ? [220, 248, 198] : [236, 239, 242]);
    c.rect(x + 12, y + 12, w - 40, 8, 4, [160, 170, 180]);
    c.rect(x + 12, y + 26, (w - 40) * 0.6, 8, 4, [185, 193, 201]);
  }
  // The widget block in the right column.
  const px = 526;
  const pw = width - px - 20;
  c.rect(px, 20, pw, 460, 6, WHITE);
  c.rect(px, 20, pw, 48, 6, BRAND);
  c.rect(px, 50, pw, 18, 0, BRAND);
  drawMark(c, px + 26, 44, 36, WHITE, BRAND);
  c.rect(px + 50, 38, 110, 12, 6, WHITE, 0.9);
  c.rect(px + 16, 84, 150, 14, 7, [70, 84, 98]);
  c.rect(px + 16, 106, 200, 8, 4, GREY);
  c.rect(px + 16, 132, 96, 24, 12, [220, 245, 232]);
  c.rect(px + 28, 141, 72, 7, 3, [11, 107, 58]);
  c.rect(px + 16, 172, pw - 32, 28, 4, WHITE);
  c.rect(px + 16, 172, pw - 32, 28, 4, GREY, 0.6);
  c.rect(px + 18, 174, pw - 36, 24, 3, WHITE);
  c.rect(px + 26, 183, 110, 8, 4, [150, 160, 170]);
  for (let i = 0; i < 2; i++) {
    c.rect(px + 16, 212 + i * 36, pw - 32, 28, 4, GREY, 0.6);
    c.rect(px + 18, 214 + i * 36, pw - 36, 24, 3, WHITE);
    c.rect(px + 26, 223 + i * 36, 70 + i * 30, 8, 4, [120, 132, 145]);
  }
  c.rect(px + 16, 290, pw - 32, 70, 8, [231, 251, 217]);
  c.rect(px + 28, 304, pw - 70, 8, 4, [120, 140, 120]);
  c.rect(px + 28, 320, pw - 90, 8, 4, [150, 170, 150]);
  c.rect(px + 28, 336, pw - 120, 8, 4, [150, 170, 150]);
  c.rect(px + 16, 374, 100, 30, 4, BRAND);
  c.rect(px + 36, 386, 60, 7, 3, WHITE);
  for (let i = 0; i < 3; i++) {
    c.rect(px + 16, 422 + i * 18, 12, 8, 4, [29, 155, 209]);
    c.rect(px + 36, 422 + i * 18, pw - 110, 8, 4, GREY);
    c.rect(px + pw - 56, 422 + i * 18, 40, 8, 4, [200, 206, 212]);
  }
  return c;
}

/** Tour 2: a Salesbot with our step and its two exits (sent / not sent). */
export function drawTourSalesbot(width = 800, height = 500): Canvas {
  const c = new Canvas(width, height, (x, y) => (x % 24 === 0 && y % 24 === 0 ? [205, 212, 219] : PAGE));
  const block = (x: number, y: number, w: number, h: number, head: Rgb) => {
    c.rect(x + 3, y + 4, w, h, 10, [210, 216, 222]);
    c.rect(x, y, w, h, 10, WHITE);
    c.rect(x, y, w, 30, 10, head);
    c.rect(x, y + 20, w, 10, 0, head);
  };
  c.line(250, 250, 320, 250, 4, [150, 160, 170]);
  c.line(520, 220, 590, 130, 4, [34, 160, 90]);
  c.line(520, 280, 590, 370, 4, [200, 70, 60]);
  block(60, 190, 190, 120, DARK);
  c.rect(80, 240, 140, 10, 5, GREY);
  c.rect(80, 262, 100, 10, 5, GREY);
  block(320, 160, 200, 180, BRAND);
  drawMark(c, 346, 175, 26, WHITE, BRAND);
  c.rect(340, 214, 160, 22, 4, GREY, 0.7);
  c.rect(340, 246, 160, 22, 4, GREY, 0.7);
  c.rect(340, 278, 160, 44, 4, GREY, 0.7);
  c.circle(520, 220, 8, [34, 160, 90]);
  c.circle(520, 280, 8, [200, 70, 60]);
  block(590, 80, 160, 100, [34, 160, 90]);
  c.rect(610, 126, 110, 10, 5, GREY);
  block(590, 320, 160, 100, [200, 70, 60]);
  c.rect(610, 366, 110, 10, 5, GREY);
  return c;
}
