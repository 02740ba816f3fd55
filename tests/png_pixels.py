"""A PNG's pixels as a numpy array, for tests that look at a screenshot (no imaging library is installed here).

Reads what Dear PyGui's ``output_frame_buffer`` writes: 8-bit RGB or RGBA, not interlaced, any row filter.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def read_png(path: str | Path) -> np.ndarray:
    """(height, width, channels) uint8."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"{path}: only 8-bit RGB or RGBA, not interlaced, is read here")
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), np.uint8)
    prev = np.zeros(width * bpp, np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 1:  # sub: a running sum per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:  # up
            row = (line + prev) % 256
        else:  # average or Paeth: each byte needs the one decoded to its left
            row = line.copy()
            for x in range(width * bpp):
                left = row[x - bpp] if x >= bpp else 0
                up = prev[x]
                if kind == 3:
                    row[x] = (row[x] + (left + up) // 2) % 256
                else:
                    upleft = prev[x - bpp] if x >= bpp else 0
                    p = left + up - upleft
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                    row[x] = (row[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) % 256
        out[y] = row
        prev = row
    return out.reshape(height, width, bpp)
