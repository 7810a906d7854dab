#!/usr/bin/env python3
"""norm-dump: put a dump of `migrate-archive ls -r` or imap-dump.py in the
form in which a source and a destination are compared:

    folder TAB size TAB date TAB sha256 TAB flags

flags lower case and sorted, without \\Deleted and without the keywords a
server computes itself ($hasattachment...); one line per body and folder
(the destination keeps one email per content).  With --union, each body's
flags are the union of its flags in every folder: JMAP keeps keywords per
email, not per mailbox, so that is what a destination holds.

--drop-deleted leaves out the copies flagged \\Deleted (jmap-push does not
carry them).  --mask FILE shows a body whose SHA-256 is listed in FILE as
"rescued" without a size, and --mask-unknown FILE each body whose SHA-256 is
not listed: a message the destination refused is carried repaired or
wrapped (jmap-push(8)), so it is compared by folder, date and flags."""

import sys


def hashes(path):
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}


def main():
    args = sys.argv[1:]
    union = '--union' in args
    drop_deleted = '--drop-deleted' in args
    mask, unknown = None, None
    if '--mask' in args:
        mask = hashes(args[args.index('--mask') + 1])
    if '--mask-unknown' in args:
        unknown = hashes(args[args.index('--mask-unknown') + 1])
    rows = []
    flags_of = {}
    for line in sys.stdin:
        f = line.rstrip('\n').split('\t')
        if len(f) < 6:
            continue
        folder, _uid, size, date, sha, flags = f[:6]
        if drop_deleted and '\\deleted' in flags.lower().split():
            continue
        fl = {x.lower() for x in flags.split()
              if not x.lower().startswith('$has') and x.lower() != '\\deleted'}
        rows.append((folder, size, date, sha, fl))
        flags_of.setdefault(sha, set()).update(fl)
    out = set()
    for folder, size, date, sha, fl in rows:
        if union:
            fl = flags_of[sha]
        if (mask is not None and sha in mask) or \
                (unknown is not None and sha not in unknown):
            size, sha = '-', 'rescued'
        out.add('\t'.join((folder, size, date, sha, ' '.join(sorted(fl)))))
    for line in sorted(out):
        print(line)


if __name__ == '__main__':
    main()
