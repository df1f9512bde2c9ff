"""Record real REST + websocket payloads from a running backend into backend-samples.json (the zod schema tests read it).

Usage: .venv/bin/python frontend/src/runs/__fixtures__/record_backend_samples.py frontend/src/runs/__fixtures__/backend-samples.json
with daphne on 127.0.0.1:8123 (BASE below) and a fresh database.
"""
import asyncio, json, sys, time, io
import requests, websockets

BASE = "http://127.0.0.1:8123"
OUT = sys.argv[1]
s = requests.Session()
s.get(BASE + "/api/auth/csrf")
H = lambda: {"X-CSRFToken": s.cookies["csrftoken"]}
user = "rec%d" % int(time.time())
r = s.post(BASE + "/api/auth/signup", json={"username": user, "password": "pw-12345678-long"}, headers=H())
r.raise_for_status()
me = r.json(); ws_id = me["personal_workspace"]["id"]
cookie = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
fixtures = {}

graph = {"nodes": {
  "1": {"type": "EmptyImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 6, "color": 0xFF8000}},
  "2": {"type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 15, "sigma": 1.0}},
  "3": {"type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "rec"}},
  "4": {"type": "PrimitiveString", "inputs": {"value": "hello"}},
  "5": {"type": "PreviewAny", "inputs": {"source": ["4", 0]}},
}}
bad = {"nodes": {"1": {"type": "EmptyImage", "inputs": {"width": -5}}, "2": {"type": "Nope", "inputs": {}}}}
r = s.post(BASE + "/api/runs", json={"workspace": ws_id, "graph": bad}, headers=H())
fixtures["validation_error"] = {"status": r.status_code, "body": r.json()}

async def main():
    ev = await websockets.connect(BASE.replace("http", "ws") + "/ws/events/", additional_headers={"Cookie": cookie, "Origin": BASE})
    events_msgs = []
    async def read_events():
        try:
            async for m in ev:
                events_msgs.append(json.loads(m))
        except Exception:
            pass
    t = asyncio.create_task(read_events())
    runs = []
    for i in range(3):
        r = s.post(BASE + "/api/runs", json={"workspace": ws_id, "graph": graph}, headers=H())
        r.raise_for_status(); runs.append(r.json())
    fixtures["run_created"] = runs[2]
    run = runs[0]
    sock = await websockets.connect(BASE.replace("http", "ws") + f"/ws/runs/{run['id']}/?after=0", additional_headers={"Cookie": cookie, "Origin": BASE})
    msgs = []
    while True:
        m = json.loads(await asyncio.wait_for(sock.recv(), 60))
        msgs.append(m)
        if m["type"] == "run_finished":
            break
    await sock.close()
    fixtures["run_ws_messages"] = msgs
    # failing run
    fail = {"nodes": {"1": {"type": "JSONParse", "inputs": {"text": "{oops"}}, "2": {"type": "PreviewAny", "inputs": {"source": ["1", 0]}},
                      "3": {"type": "PrimitiveString", "inputs": {"value": "x"}}, "4": {"type": "PreviewAny", "inputs": {"source": ["3", 0]}}}}
    r = s.post(BASE + "/api/runs", json={"workspace": ws_id, "graph": fail}, headers=H()); r.raise_for_status()
    fid = r.json()["id"]
    sock = await websockets.connect(BASE.replace("http", "ws") + f"/ws/runs/{fid}/?after=0", additional_headers={"Cookie": cookie, "Origin": BASE})
    fm = []
    while True:
        m = json.loads(await asyncio.wait_for(sock.recv(), 60)); fm.append(m)
        if m["type"] == "run_finished": break
    await sock.close()
    fixtures["failed_ws_messages"] = fm
    fixtures["failed_detail"] = s.get(BASE + f"/api/runs/{fid}").json()
    # wait for all to finish
    for x in runs:
        for _ in range(200):
            d = s.get(BASE + f"/api/runs/{x['id']}").json()
            if d["status"] not in ("queued", "running"): break
            await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    fixtures["run_detail"] = s.get(BASE + f"/api/runs/{run['id']}").json()
    fixtures["run_events_page"] = s.get(BASE + f"/api/runs/{run['id']}/events", params={"after": 3, "limit": 5}).json()
    fixtures["run_list"] = s.get(BASE + "/api/runs", params={"mine": 1, "limit": 2}).json()
    # bad websocket
    sock = await websockets.connect(BASE.replace("http", "ws") + f"/ws/runs/00000000-0000-0000-0000-000000000000/", additional_headers={"Cookie": cookie, "Origin": BASE})
    try:
        await sock.recv()
    except websockets.ConnectionClosed as exc:
        fixtures["ws_not_found_close_code"] = exc.rcvd.code if exc.rcvd else None
    await ev.close(); t.cancel()
    fixtures["events_ws_messages"] = events_msgs

asyncio.run(main())
# upload
from PIL import Image
buf = io.BytesIO(); Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, "PNG")
r = s.post(BASE + "/api/uploads", files={"file": ("red.png", buf.getvalue(), "image/png")}, data={"workspace": ws_id}, headers=H())
fixtures["upload_created"] = r.json()
fixtures["upload_list"] = s.get(BASE + "/api/uploads", params={"workspace": ws_id, "kind": "image"}).json()
json.dump(fixtures, open(OUT, "w"), indent=1)
print("ok", {k: (len(v) if isinstance(v, list) else type(v).__name__) for k, v in fixtures.items()})
