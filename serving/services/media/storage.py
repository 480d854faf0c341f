"""Where downloaded media is kept: a local folder or an S3-compatible bucket, behind one small interface.

Keys are content addresses (`sha256/ab/cd/<sha256>`): the same bytes are stored once, a key never points at other
bytes, and erasing or purging one message's copy checks that no other attachment still uses the key."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from crm.settings import PROJECT_ROOT, Settings


def content_key(sha256_hex: str) -> str:
    return f"sha256/{sha256_hex[:2]}/{sha256_hex[2:4]}/{sha256_hex}"


class MediaStore(Protocol):
    description: str

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def exists(self, key: str) -> bool: ...
    async def delete(self, key: str) -> None: ...


class LocalMediaStore:
    def __init__(self, root: Path):
        self.root = root
        self.description = f"folder {root}"

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"media key outside the store: {key!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path(key)
        if path.exists():
            return  # content-addressed: already there, byte for byte
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written to a temporary file and renamed: a crash never leaves half a file under a real key.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    async def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    async def exists(self, key: str) -> bool:
        return self.path(key).exists()

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class S3MediaStore:
    """boto3 is synchronous: calls run in a thread so the worker's event loop keeps going."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None):
        import boto3

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url)
        self.description = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint_url}" if endpoint_url else "")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                                ContentType=content_type)

    async def get(self, key: str) -> bytes:
        def read() -> bytes:  # the body streams from S3 too: read it in the thread, not on the event loop
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

        return await asyncio.to_thread(read)

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))


def store_from_settings(settings: Settings) -> MediaStore:
    """MEDIA_STORAGE_URL: `file://<folder>` (relative to the checkout unless absolute) or `s3://<bucket>/<prefix>`."""
    url = settings.media_storage_url
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"MEDIA_STORAGE_URL {url!r} names no bucket: use s3://<bucket>/<prefix>")
        return S3MediaStore(parts.netloc, parts.path, settings.media_s3_endpoint_url)
    if parts.scheme in ("file", ""):
        raw = (parts.netloc + parts.path) if parts.scheme == "file" else url
        root = Path(raw)
        return LocalMediaStore(root if root.is_absolute() else PROJECT_ROOT / root)
    raise ValueError(f"MEDIA_STORAGE_URL {url!r}: use file://<folder> or s3://<bucket>/<prefix>")
