"""A document written by pycrdt reads the same in Yjs (frontend/src/coedit/doc-model.test.ts reads
``from_pycrdt``), and one written by Yjs reads the same here (``from_yjs``, written by doc-model.test.ts).

Regenerate after changing the mapping: ``COEDIT_WRITE_FIXTURES=1`` with this test (``from_pycrdt``) and with
``npx vitest run src/coedit`` (``from_yjs``).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from pycrdt import Doc

from backend.coedit.document import doc_from_document, document_from_doc
from backend.workflows.documents import canonical_json

FIXTURE = Path(__file__).resolve().parents[3] / "frontend/src/coedit/__fixtures__/cross-language.json"


def test_a_document_written_by_yjs_reads_the_same_here_and_ours_is_written_for_yjs():
    fixture = json.loads(FIXTURE.read_text())
    expected = (fixture["document"]["graph"], fixture["document"]["layout"])
    if os.environ.get("COEDIT_WRITE_FIXTURES") == "1":
        fixture["from_pycrdt"] = base64.b64encode(doc_from_document(*expected).get_update()).decode()
        FIXTURE.write_text(json.dumps(fixture, indent=2) + "\n")
    for name in ("from_yjs", "from_pycrdt"):
        doc: Doc[Any] = Doc()
        doc.apply_update(base64.b64decode(fixture[name]))
        assert canonical_json(document_from_doc(doc)) == canonical_json(expected), name
    graph = document_from_doc(doc)[0]
    assert isinstance(graph["nodes"]["1"]["inputs"]["steps"], int)
    assert graph["nodes"]["1"]["inputs"]["seed"] == 2**53 - 1  # the largest integer the browser keeps exact
