"""Numbered lines of a byte stream with a bound on line length, and a stream with its head peeked."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

HEAD_BYTES = 64 * 1024
_READ_BYTES = 1 << 20


class LineReader:
    """Yields (line number, line without its line break, full length in bytes).

    A line longer than `limit` bytes is never held whole: its first `limit` bytes are
    yielded and the rest is skipped, so one 1 GB line costs `limit` bytes of memory.
    `bytes` and `lines` count the input the way `triage diagnose` does.
    """

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.bytes = 0
        self.lines = 0

    def __iter__(self) -> Iterator[tuple[int, bytes, int]]:
        readline = self.stream.readline
        limit = self.limit
        n = 0
        total = 0
        try:
            while True:
                line = readline(limit)
                if not line:
                    return
                n += 1
                size = len(line)
                if line[-1] != 10 and size == limit:  # longer than the limit: skip the rest
                    while True:
                        more = readline(_READ_BYTES)
                        size += len(more)
                        if not more or more[-1] == 10:
                            break
                total += size
                self.bytes, self.lines = total, n
                yield n, line.rstrip(b"\r\n"), size
        finally:
            self.bytes, self.lines = total, n


class _Chain(io.RawIOBase):
    """Bytes already read from a stream, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def peek_head(stream: BinaryIO, size: int = HEAD_BYTES) -> tuple[bytes, BinaryIO]:
    """The first `size` bytes, and a stream that still yields every byte from the start."""
    try:
        seekable = stream.seekable()
    except (AttributeError, ValueError, OSError):
        seekable = False
    if seekable:
        if isinstance(stream, io.RawIOBase):  # unbuffered: readline would read byte by byte
            stream = io.BufferedReader(stream, buffer_size=_READ_BYTES)
        start = stream.tell()
        head = stream.read(size)
        stream.seek(start)
        return head, stream
    head = b""
    while len(head) < size:  # a pipe gives what it has; keep reading up to `size`
        block = stream.read(size - len(head))
        if not block:
            break
        head += block
    return head, prepend(head, stream)


def prepend(head: bytes, rest: BinaryIO) -> BinaryIO:
    """A buffered stream of `head` followed by the rest of `rest`."""
    return io.BufferedReader(_Chain(head, rest), buffer_size=_READ_BYTES)


def line_blocks(stream: BinaryIO, limit: int, size: int = _READ_BYTES) -> Iterator[tuple[bytes, int, int, int]]:
    """Whole lines, as (buffer, start, end, 0): the lines are buffer[start:end], ending in a line break.

    Blocks are not copied: the lines sit in the buffer read from the stream. A line cut by a
    block boundary comes alone in its own small buffer; the very last line may lack its line
    break. A line longer than `limit` bytes is not kept: it comes as (b"", 0, 0, its length),
    so memory stays near `limit + size` whatever the input.
    """
    carry = b""  # the start of a line cut by the previous block
    skipping = 0  # > 0 while skipping the rest of an over-long line
    while True:
        block = stream.read(size)
        if not block:
            if skipping:
                yield b"", 0, 0, skipping
            elif carry:
                yield carry, 0, len(carry), 0
            return
        first = block.find(b"\n")
        if first < 0:  # no line ends in this block
            if skipping:
                skipping += len(block)
            elif len(carry) + len(block) > limit:
                skipping, carry = len(carry) + len(block), b""
            else:
                carry += block
            continue
        if skipping:
            yield b"", 0, 0, skipping + first + 1
            skipping = 0
        elif carry:
            line = carry + block[: first + 1]
            yield (b"", 0, 0, len(line)) if len(line) > limit else (line, 0, len(line), 0)
        else:
            first = -1  # the block starts on a line of its own
        last = block.rfind(b"\n")
        if last > first:
            yield block, first + 1, last + 1, 0
        carry = block[last + 1 :]
