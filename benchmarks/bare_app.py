"""The baseline: a bare FastAPI JSON endpoint, served exactly as the appliance is served."""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from app.cli import server_config

app = FastAPI()


@app.get("/item")
async def item() -> dict[str, object]:
    return {"id": "site-000000000000", "name": "protected", "role": "local", "url": None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--certfile", required=True)
    parser.add_argument("--keyfile", required=True)
    args = parser.parse_args()
    config = server_config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
