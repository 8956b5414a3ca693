"""Reading the project's capture files (each message as `uvarint(length) message`), for the
Python scripts that serve a capture as a relay."""


def read_messages(path):
    """The messages of a capture, in order."""
    data = open(path, 'rb').read()
    out, i = [], 0
    while i < len(data):
        n, shift = 0, 0
        while True:
            b = data[i]; i += 1
            n |= (b & 0x7F) << shift; shift += 7
            if b < 0x80:
                break
        out.append(data[i:i + n]); i += n
    return out
