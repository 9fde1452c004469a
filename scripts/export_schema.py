"""Write the JSON Schema of bigmax.schema's Entry and Upload to docs/schema/ (run by `make schema`).

tests/test_schema_docs.py fails when the committed files differ from what this writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from bigmax.schema import Entry, Upload

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schema"
MODELS = {"entry.schema.json": Entry, "upload.schema.json": Upload}


def render(model) -> str:
    """The model's JSON Schema as stable, diff-friendly text."""
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, model in MODELS.items():
        (DOCS / name).write_text(render(model), encoding="utf-8")
        print(f"wrote {DOCS / name}")


if __name__ == "__main__":
    main()
