"""The yardstick: a bare FastAPI endpoint that reads the body and answers, with no checks and no storage."""

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()


@app.post("/api/v1/webhooks/inbound")
async def inbound(request: Request) -> Response:
    await request.body()
    return Response(b'{"status":"ok"}', media_type="application/json")
