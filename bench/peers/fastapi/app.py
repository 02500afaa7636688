"""The seed-style FastAPI server: the baseline a Python team would start from.

Written the way the seed describes it, and no cleverer: a connection manager
holds the open sockets per topic, `/ws/{topic}` is a WebSocket endpoint,
`/sse/{topic}` streams Server-Sent Events through a StreamingResponse fed by
an asyncio.Queue per client, and `POST /publish/{topic}` broadcasts the JSON
body to every subscriber of the topic, WebSocket ones one `send_text` after
the other. There is no history and no resume: a client that reconnects gets
what is published from then on.

Two endpoints exist only so that the load generator can measure it the way
it measures the others (both are what an operator would add first):
`GET /metrics` (connections per transport, RSS and CPU of the process) and
`POST /admin/drop?transport=ws|sse|all` (drop every connection, for the
reconnect storm).

Run: python3 -m uvicorn app:app --app-dir bench/peers/fastapi --port 8000
(Debian: apt-get install python3-fastapi python3-uvicorn python3-websockets).
The load generator drives it through target.json (a `custom` target file).
"""

import asyncio
import json
import os
import resource
from collections import defaultdict

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse

HEARTBEAT_SECONDS = float(os.environ.get("PEER_HEARTBEAT", "15"))

# Like any server meant to hold thousands of sockets: open files up to the
# hard limit (a child of the load generator starts with the soft one).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))

app = FastAPI(title="seed-style realtime server")


class ConnectionManager:
    """Holds the open connections of every topic."""

    def __init__(self):
        self.active_connections: dict[str, list[WebSocket]] = defaultdict(list)
        self.sse_clients: dict[str, list[asyncio.Queue]] = defaultdict(list)

    async def connect(self, topic: str, websocket: WebSocket):
        await websocket.accept()
        self.active_connections[topic].append(websocket)

    def disconnect(self, topic: str, websocket: WebSocket):
        conns = self.active_connections.get(topic, [])
        if websocket in conns:
            conns.remove(websocket)
        if not conns:
            self.active_connections.pop(topic, None)

    def add_sse(self, topic: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self.sse_clients[topic].append(queue)
        return queue

    def remove_sse(self, topic: str, queue: asyncio.Queue):
        queues = self.sse_clients.get(topic, [])
        if queue in queues:
            queues.remove(queue)
        if not queues:
            self.sse_clients.pop(topic, None)

    async def broadcast(self, topic: str, message: str) -> int:
        sent = 0
        for connection in list(self.active_connections.get(topic, [])):
            try:
                await connection.send_text(message)
                sent += 1
            except Exception:
                self.disconnect(topic, connection)
        for queue in list(self.sse_clients.get(topic, [])):
            queue.put_nowait(message)
            sent += 1
        return sent

    def count(self) -> dict:
        return {
            "ws": sum(len(c) for c in self.active_connections.values()),
            "sse": sum(len(q) for q in self.sse_clients.values()),
        }

    async def drop(self, transport: str) -> int:
        dropped = 0
        if transport in ("ws", "all"):
            for topic, conns in list(self.active_connections.items()):
                for connection in list(conns):
                    self.disconnect(topic, connection)
                    try:
                        await connection.close(code=1012)
                    except Exception:
                        pass
                    dropped += 1
        if transport in ("sse", "all"):
            for topic, queues in list(self.sse_clients.items()):
                for queue in list(queues):
                    self.remove_sse(topic, queue)
                    queue.put_nowait(None)  # ends that client's stream
                    dropped += 1
        return dropped


manager = ConnectionManager()


@app.websocket("/ws/{topic}")
async def websocket_endpoint(websocket: WebSocket, topic: str):
    await manager.connect(topic, websocket)
    try:
        while True:
            await websocket.receive_text()  # clients only listen; this notices them leave
    except WebSocketDisconnect:
        manager.disconnect(topic, websocket)


@app.get("/sse/{topic}")
async def sse_endpoint(topic: str):
    queue = manager.add_sse(topic)

    async def events():
        try:
            yield "retry: 2000\n\n"  # as the demo's --sse-retry: storms compare alike
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except asyncio.TimeoutError:
                    yield ": ping\n\n"
                    continue
                if message is None:
                    return
                yield f"data: {message}\n\n"
        finally:
            manager.remove_sse(topic, queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


@app.post("/publish/{topic}")
async def publish(topic: str, request: Request):
    data = await request.json()
    message = json.dumps({"topic": topic, "data": data})
    sent = await manager.broadcast(topic, message)
    return {"ok": True, "sent": sent}


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/metrics")
async def metrics():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = 0
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pass
    return {
        "connections": manager.count(),
        "rss_bytes": rss,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


@app.post("/admin/drop")
async def admin_drop(transport: str = "all"):
    if transport not in ("ws", "sse", "all"):
        return JSONResponse({"error": "transport must be ws, sse or all"}, status_code=400)
    return {"dropped": await manager.drop(transport)}
