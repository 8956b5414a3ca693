"""Reading the project's capture files (each message as `uvarint(length) message`, the file
plain, gzip or zstd), for the Python scripts that serve or measure a capture."""
import gzip


def uvarint(buf, i):
    """The unsigned LEB128 integer at `buf[i]`, and the index after it."""
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def read_messages(path):
    """The messages of a capture, in order. A record cut short at the end is an error."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    elif data[:4] == b'\x28\xb5\x2f\xfd':
        import zstandard
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    messages, i, n = [], 0, len(data)
    while i < n:
        length, i = uvarint(data, i)
        messages.append(data[i:i + length])
        i += length
    if i != n:
        raise SystemExit('%s: truncated record at the end' % path)
    return messages
