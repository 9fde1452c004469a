// A clickable periodic table: one button per element, counts from the search's terms
// aggregation, arrow keys move between elements.

import { h } from "./lib.js";

export const SYMBOLS = (
  "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se " +
  "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb " +
  "Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm " +
  "Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split(" ");

/** (row, column) of atomic number z in the 18-column layout; rows 9 and 10 hold the f-block (La-Lu, Ac-Lr). */
export function position(z) {
  if (z === 1) return [1, 1];
  if (z === 2) return [1, 18];
  const starts = [[3, 2], [11, 3], [19, 4], [37, 5], [55, 6], [87, 7]];
  let period = 2;
  let first = 3;
  for (const [s, p] of starts) if (z >= s) [first, period] = [s, p];
  const k = z - first;
  if (period <= 3) return [period, k < 2 ? k + 1 : k + 11];
  if (period <= 5) return [period, k + 1];
  if (k < 2) return [period, k + 1];
  if (k < 17) return [period + 3, k + 1]; // La..Lu and Ac..Lr, in their own rows from column 3
  return [period, k - 13];
}

const FAMILY = (z) => {
  const alkali = [3, 11, 19, 37, 55, 87];
  const alkaline = [4, 12, 20, 38, 56, 88];
  const metalloid = [5, 14, 32, 33, 51, 52];
  const nonmetal = [1, 6, 7, 8, 15, 16, 34];
  const halogen = [9, 17, 35, 53, 85, 117];
  const noble = [2, 10, 18, 36, 54, 86, 118];
  if (alkali.includes(z)) return "alkali";
  if (alkaline.includes(z)) return "alkaline";
  if (metalloid.includes(z)) return "metalloid";
  if (nonmetal.includes(z)) return "nonmetal";
  if (halogen.includes(z)) return "halogen";
  if (noble.includes(z)) return "noble";
  if ((z >= 57 && z <= 71) || (z >= 89 && z <= 103)) return "fblock";
  if ((z >= 21 && z <= 30) || (z >= 39 && z <= 48) || (z >= 72 && z <= 80) ||
    (z >= 104 && z <= 112)) return "transition";
  return "post";
};

export class PeriodicTable {
  constructor(root, { onToggle }) {
    this.root = root;
    this.onToggle = onToggle;
    this.buttons = new Map();
    this.grid = new Map();
    const table = h("div", { class: "ptable", role: "group", "aria-label": "Periodic table" });
    SYMBOLS.forEach((sym, i) => {
      const z = i + 1;
      const [row, col] = position(z);
      const btn = h("button", {
        type: "button",
        class: `el ${FAMILY(z)}`,
        "aria-pressed": "false",
        "data-el": sym,
        title: sym,
        tabindex: z === 1 ? "0" : "-1",
        style: { gridRow: row + (row > 7 ? 1 : 0), gridColumn: col },
        on: { click: () => this.onToggle(sym), keydown: (e) => this.key(e, row, col) },
      }, h("span", { class: "z" }, z), h("span", { class: "sym" }, sym),
      h("span", { class: "n" }, ""));
      this.buttons.set(sym, btn);
      this.grid.set(`${row},${col}`, btn);
      table.append(btn);
    });
    table.append(h("div", { class: "gap", style: { gridRow: 8, gridColumn: "1 / span 18" } }));
    root.append(table);
  }

  /** Arrow keys move the focus (roving tabindex); Enter and Space toggle (native buttons). */
  key(e, row, col) {
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    const m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    let [r, c] = [row, col];
    for (let step = 0; step < 20; step++) {
      r += m[0];
      c += m[1];
      if (r < 1 || r > 10 || c < 1 || c > 18) return;
      const next = this.grid.get(`${r},${c}`);
      if (next) {
        for (const b of this.buttons.values()) b.tabIndex = -1;
        next.tabIndex = 0;
        next.focus();
        return;
      }
    }
  }

  /** Counts per symbol (missing: 0) and the selected symbols. */
  update(counts, selected) {
    const max = Math.max(1, ...Object.values(counts));
    for (const [sym, btn] of this.buttons) {
      const n = counts[sym] || 0;
      const on = selected.includes(sym);
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      btn.classList.toggle("empty", n === 0 && !on);
      btn.querySelector(".n").textContent = n ? compact(n) : "";
      btn.style.setProperty("--heat", n ? (0.15 + 0.85 * Math.log1p(n) / Math.log1p(max)) : 0);
      btn.setAttribute("aria-label", `${sym}, ${n} entries${on ? ", selected" : ""}`);
    }
  }
}

export function compact(n) {
  if (n < 1000) return String(n);
  if (n < 1e6) return `${Number((n / 1e3).toPrecision(2))}k`;
  return `${Number((n / 1e6).toPrecision(2))}M`;
}
