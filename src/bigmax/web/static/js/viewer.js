// The 3D structure viewer: 3Dmol.js (WebGL) draws the atoms, bonds (from covalent radii) and
// the unit cell; supercells are built here by repeating the cell's atoms.

import { h } from "./lib.js";

const ANGSTROM = 1e10; // positions and cells are stored in metres
const MAX_ATOMS = 20000;

const STYLES = {
  "ball-and-stick": (bonds) => (bonds
    ? { sphere: { scale: 0.28 }, stick: { radius: 0.14, colorscheme: "Jmol" } }
    : { sphere: { scale: 0.28 } }),
  spacefill: () => ({ sphere: { scale: 1.0 } }),
  sticks: (bonds) => (bonds ? { stick: { radius: 0.18 } } : { sphere: { scale: 0.18 } }),
};

/** True where WebGL runs in software (SwiftShader, llvmpipe): antialiasing is then turned off,
 * since it costs more than the whole scene. */
function softwareGL() {
  try {
    const gl = document.createElement("canvas").getContext("webgl");
    const info = gl && gl.getExtension("WEBGL_debug_renderer_info");
    const name = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : "";
    return /swiftshader|llvmpipe|software/i.test(name);
  } catch {
    return false;
  }
}

export function hasStructure(s) {
  return !!(s && Array.isArray(s.positions) && s.positions.length && s.species);
}

/** a, b, c (Å) and alpha, beta, gamma (degrees) of a cell given in metres. */
export function latticeParameters(cell) {
  const v = cell.map((r) => r.map((x) => x * ANGSTROM));
  const len = (a) => Math.hypot(...a);
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const ang = (a, b) => (Math.acos(dot(a, b) / (len(a) * len(b))) * 180) / Math.PI;
  const vol = Math.abs(
    v[0][0] * (v[1][1] * v[2][2] - v[1][2] * v[2][1]) -
    v[0][1] * (v[1][0] * v[2][2] - v[1][2] * v[2][0]) +
    v[0][2] * (v[1][0] * v[2][1] - v[1][1] * v[2][0]));
  return { a: len(v[0]), b: len(v[1]), c: len(v[2]), alpha: ang(v[1], v[2]),
    beta: ang(v[0], v[2]), gamma: ang(v[0], v[1]), volume: vol };
}

export class StructureViewer {
  constructor(el, structure) {
    this.el = el;
    this.s = structure;
    this.periodic = !!(structure.cell && structure.cell.length === 3 &&
      (structure.pbc || [true, true, true]).some(Boolean));
    this.viewer = window.$3Dmol.createViewer(el, {
      backgroundColor: "white", antialias: !softwareGL(), preserveDrawingBuffer: true,
    });
  }

  /** Elements in the structure with their 3Dmol (Jmol) colours, for a legend. */
  colours() {
    const table = window.$3Dmol.elementColors?.Jmol || {};
    return [...new Set(this.s.species)].map((sym) => {
      const c = table[sym] ?? 0xff1493;
      return [sym, `#${c.toString(16).padStart(6, "0")}`];
    });
  }

  xyz(rep) {
    const cell = this.periodic ? this.s.cell.map((r) => r.map((x) => x * ANGSTROM)) : null;
    const lines = [];
    const [na, nb, nc] = this.periodic ? rep : [1, 1, 1];
    for (let i = 0; i < na; i++) {
      for (let j = 0; j < nb; j++) {
        for (let k = 0; k < nc; k++) {
          const shift = cell
            ? [0, 1, 2].map((d) => i * cell[0][d] + j * cell[1][d] + k * cell[2][d])
            : [0, 0, 0];
          this.s.positions.forEach((p, n) => {
            const x = p.map((v, d) => v * ANGSTROM + shift[d]);
            lines.push(`${this.s.species[n]} ${x[0].toFixed(5)} ${x[1].toFixed(5)} ${
              x[2].toFixed(5)}`);
          });
        }
      }
    }
    return `${lines.length}\n\n${lines.join("\n")}\n`;
  }

  /** Draw with a supercell repeat [na, nb, nc], the unit cell and bonds on or off. */
  draw({ repeat = [1, 1, 1], cell = true, bonds = true, style = "ball-and-stick" } = {}) {
    const n = this.s.positions.length * repeat[0] * repeat[1] * repeat[2];
    if (n > MAX_ATOMS) {
      throw new RangeError(`a ${repeat.join("×")} supercell has ${n} atoms; at most ${
        MAX_ATOMS} are drawn`);
    }
    const v = this.viewer;
    v.clear();
    v.addModel(this.xyz(repeat), "xyz");
    v.setStyle({}, STYLES[style](bonds));
    if (cell && this.periodic) this.cellEdges();
    v.zoomTo();
    if (!this.turned && this.periodic) {
      v.rotate(-20, "x");
      v.rotate(15, "y");
      this.turned = true;
    }
    v.render();
  }

  cellEdges() {
    const c = this.s.cell.map((r) => r.map((x) => x * ANGSTROM));
    const at = (i, j, k) => ({
      x: i * c[0][0] + j * c[1][0] + k * c[2][0],
      y: i * c[0][1] + j * c[1][1] + k * c[2][1],
      z: i * c[0][2] + j * c[1][2] + k * c[2][2],
    });
    const corners = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1],
      [1, 1, 1]];
    for (const a of corners) {
      for (const b of corners) {
        const diff = a.map((x, d) => b[d] - x);
        if (diff.filter((x) => x === 1).length === 1 && diff.every((x) => x >= 0)) {
          this.viewer.addCylinder({ start: at(...a), end: at(...b), radius: 0.05,
            color: "#3b4452", fromCap: 1, toCap: 1 });
        }
      }
    }
  }

  resize() {
    this.viewer.resize();
    this.viewer.render();
  }
}

/** The viewer's controls; calls ``redraw(options)`` on every change. */
export function viewerControls(periodic, redraw) {
  const opts = { repeat: [1, 1, 1], cell: true, bonds: true, style: "ball-and-stick" };
  const rep = (d) => h("input", {
    type: "number", min: 1, max: 6, value: 1, id: `rep-${"abc"[d]}`,
    "aria-label": `Repeat along ${"abc"[d]}`,
    on: {
      change: (e) => {
        const n = Math.max(1, Math.min(6, Math.round(Number(e.target.value) || 1)));
        e.target.value = n;
        opts.repeat[d] = n;
        redraw(opts);
      },
    },
  });
  const check = (key, text) => h("label", {}, h("input", {
    type: "checkbox", checked: opts[key], id: `show-${key}`,
    on: {
      change: (e) => {
        opts[key] = e.target.checked;
        redraw(opts);
      },
    },
  }), text);
  const style = h("select", { id: "viewer-style", "aria-label": "Drawing style",
    on: {
      change: (e) => {
        opts.style = e.target.value;
        redraw(opts);
      },
    } },
  h("option", { value: "ball-and-stick" }, "Ball and stick"),
  h("option", { value: "spacefill" }, "Space filling"),
  h("option", { value: "sticks" }, "Sticks"));
  return h("div", { class: "viewer-tools" },
    periodic ? h("span", { class: "row", role: "group", "aria-label": "Supercell" },
      "Supercell ", rep(0), "×", rep(1), "×", rep(2)) : null,
    periodic ? check("cell", " Unit cell") : null,
    check("bonds", " Bonds"),
    style);
}
