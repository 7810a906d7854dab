"""imapns: what the IMAP test tools share about namespaces."""
import re


def unquote(b):
    if b.startswith(b'"'):
        return b[1:-1].replace(b'\\"', b'"').replace(b'\\\\', b'\\')
    return b


def others(imap):
    """The prefixes of the other users' and the shared namespaces: their
    folders are not the account's own."""
    typ, data = imap.namespace()
    if typ != 'OK' or not data or not data[0]:
        return []
    text, groups, depth, start = data[0], [], 0, 0
    for i, c in enumerate(text):
        if c == ord('('):
            depth += 1
            if depth == 1:
                start = i
        elif c == ord(')'):
            depth -= 1
            if depth == 0:
                groups.append(text[start:i + 1])
        elif depth == 0 and text[i:i + 3] == b'NIL':
            groups.append(b'NIL')
    return [unquote(m.group(1)) for g in groups[1:3]
            for m in re.finditer(rb'\(("(?:[^"\\]|\\.)*")', g)
            if unquote(m.group(1))]
