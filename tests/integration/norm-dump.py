#!/usr/bin/env python3
"""norm-dump: put a dump of `migrate-archive ls -r` or imap-dump.py in the
form in which a source and a destination are compared:

    folder TAB size TAB date TAB sha256 TAB flags

flags lower case and sorted, without \\Deleted and without the keywords a
server computes itself ($hasattachment...); one line per body and folder
(the destination keeps one email per content).  With --union, each body's
flags are the union of its flags in every folder: JMAP keeps keywords per
email, not per mailbox, so that is what a destination holds."""

import sys


def main():
    union = '--union' in sys.argv[1:]
    rows = []
    flags_of = {}
    for line in sys.stdin:
        f = line.rstrip('\n').split('\t')
        if len(f) < 6:
            continue
        folder, _uid, size, date, sha, flags = f[:6]
        fl = {x.lower() for x in flags.split()
              if not x.lower().startswith('$has') and x.lower() != '\\deleted'}
        rows.append((folder, size, date, sha, fl))
        flags_of.setdefault(sha, set()).update(fl)
    out = set()
    for folder, size, date, sha, fl in rows:
        if union:
            fl = flags_of[sha]
        out.add('\t'.join((folder, size, date, sha, ' '.join(sorted(fl)))))
    for line in sorted(out):
        print(line)


if __name__ == '__main__':
    main()
