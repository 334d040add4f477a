"""Read NWB files over HTTP(S) lazily: only the byte ranges that are read travel.

A URL (``https://...``, or a DANDI asset URL such as
``https://api.dandiarchive.org/api/assets/<asset_id>/download/``) is resolved once by a one-byte
range request that follows the archive's redirect to the object store (S3), which also gives the
file's size and, from ``Content-Disposition``, its name. The resolved URL is then read through
`remfile <https://github.com/flatironinstitute/remfile>`_: a file-like object that h5py reads
from, fetching ranges with HTTP ``Range`` requests and keeping them in memory.

Why remfile rather than fsspec: remfile is made for HDF5 over HTTP (small ranges for the scattered
metadata reads HDF5 makes, growing read-ahead when reads are sequential, as in a long dataset),
needs only ``requests``, and works with the presigned S3 URLs DANDI redirects to (it never sends
HEAD requests, which presigned URLs refuse). fsspec's HTTP file system adds an asyncio event loop
thread and aiohttp and, with its default block cache, fetches more than HDF5 asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["is_url", "RemoteFile", "resolve_url", "open_remote", "MIN_CHUNK_BYTES"]

#: smallest range fetched (bytes): HDF5 metadata reads are a few hundred bytes to a few KiB
MIN_CHUNK_BYTES = 16 * 1024
_TIMEOUT_S = 60.0


def is_url(source: Any) -> bool:
    """Whether ``source`` is an ``http://`` or ``https://`` URL (a string)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class RemoteFile:
    """A resolved remote file: the URL given, the URL its bytes come from, size and name."""

    url: str
    resolved_url: str
    size: int
    name: str


def _file_name(url: str, resolved: str, disposition: str | None) -> str:
    if disposition:
        match = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", disposition)
        if match:
            return unquote(match.group(1)).rsplit("/", 1)[-1]
    for candidate in (url, resolved):
        last = unquote(urlsplit(candidate).path).rstrip("/").rsplit("/", 1)[-1]
        if last and last != "download":
            return last
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return parts[-2] if len(parts) >= 2 else urlsplit(url).netloc  # DANDI: the asset id


def resolve_url(url: str) -> RemoteFile:
    """Follow redirects to the object that holds the bytes; read its size and name.

    Parameters
    ----------
    url : str
        ``http(s)://`` URL of an NWB file, or of an archive endpoint that redirects to one
        (DANDI: ``https://api.dandiarchive.org/api/assets/<asset_id>/download/``).

    Returns
    -------
    RemoteFile

    Raises
    ------
    ValueError
        If the server cannot be reached, answers with an error, or does not serve byte ranges
        (streaming needs them; download the file instead).
    """
    import requests

    try:
        response = requests.get(
            url, headers={"Range": "bytes=0-0"}, allow_redirects=True, timeout=_TIMEOUT_S
        )
    except requests.RequestException as exc:
        raise ValueError(
            f"cannot reach {url!r} ({type(exc).__name__}: {exc}); check the URL and the network."
        ) from None
    with response:
        if response.status_code >= 400:
            raise ValueError(
                f"{url!r} answered HTTP {response.status_code} {response.reason}; check the URL "
                "(a DANDI asset URL looks like https://api.dandiarchive.org/api/assets/<asset_id>"
                "/download/) and, for embargoed data, your access."
            )
        content_range = response.headers.get("Content-Range", "")
        match = re.match(r"bytes \d+-\d+/(\d+)", content_range)
        if response.status_code != 206 or match is None:
            raise ValueError(
                f"{url!r} does not serve byte ranges (HTTP {response.status_code} without "
                "Content-Range), so it cannot be read lazily; download the file and pass its path."
            )
        return RemoteFile(
            url=url,
            resolved_url=response.url,
            size=int(match.group(1)),
            name=_file_name(url, response.url, response.headers.get("Content-Disposition")),
        )


def open_remote(remote: RemoteFile, min_chunk_bytes: int = MIN_CHUNK_BYTES) -> Any:
    """A read-only, seekable file object over ``remote`` (a ``remfile.File``) for ``h5py.File``."""
    try:
        import remfile
    except ImportError:
        raise ImportError(
            "reading NWB from a URL needs remfile: pip install 'neurogeom[stream]' "
            "(or pip install remfile)."
        ) from None
    try:  # the size is known: no extra request for it
        return remfile.File(remote.resolved_url, _min_chunk_size=min_chunk_bytes, _size=remote.size)
    except TypeError:  # a remfile without these keywords
        return remfile.File(remote.resolved_url)
